#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'docs.pdf data.db' > /work/answer.txt
