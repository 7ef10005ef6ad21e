#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find tmp -mindepth 1 -type d -empty -delete && find tmp -type f -empty -delete
