#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'gamma alpha' > /work/answer.txt
