#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd photos && md5sum * | sort -r | awk 'seen[$1]++ {print $2}' | xargs rm --
