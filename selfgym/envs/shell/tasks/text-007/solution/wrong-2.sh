#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
head -n 3 words.txt > top3.txt
