#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
comm -13 <(sort old.txt) <(sort new.txt) > added.txt
