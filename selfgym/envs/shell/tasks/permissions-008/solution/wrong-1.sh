#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find tree -perm /6000 -exec chmod ug-s {} \;
