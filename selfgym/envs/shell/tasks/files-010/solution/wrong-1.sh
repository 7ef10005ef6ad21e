#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' app.log/worker-2.log > /work/answer.txt
