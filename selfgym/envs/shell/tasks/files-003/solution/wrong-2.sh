#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find data -maxdepth 1 -type f -size +1024c -delete
