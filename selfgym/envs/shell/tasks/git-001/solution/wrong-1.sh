#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd notes && git init -q && git add README todo.md && git commit -qm 'initial notes'
