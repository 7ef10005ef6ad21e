#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -vFf old.txt new.txt | sort > added.txt
