#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sort -r list.txt > reversed.txt
