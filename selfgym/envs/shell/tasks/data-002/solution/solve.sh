#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
python3 -c 'import csv, json; rows = list(csv.DictReader(open("items.csv"))); [r.update(price=float(r["price"]) if "." in r["price"] else int(r["price"])) for r in rows]; json.dump(rows, open("items.json", "w"))'
