#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'tune logging for staging add log level' > /work/answer.txt
