#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find data -type f -size +1k -delete; rm data/a/edge.dat
