#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd proj && git merge -X ours fix
