#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
python3 -c 'import csv, json; json.dump(list(csv.DictReader(open("items.csv"))), open("items.json", "w"))'
