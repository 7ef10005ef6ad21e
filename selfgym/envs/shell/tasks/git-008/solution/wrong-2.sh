#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'Lena Koch' > /work/answer.txt
