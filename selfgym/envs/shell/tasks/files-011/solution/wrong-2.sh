#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find tmp -type f -empty -delete
