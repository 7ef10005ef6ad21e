#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'assets/video.raw main.bin' > /work/answer.txt
