#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir skeleton && cd src && find . -mindepth 1 -maxdepth 1 -type d -exec mkdir ../skeleton/{} \;
