#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd notes && git init -q && git add . && git commit -qm 'initial commit'
