#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find music -type f -name '* *' | while IFS= read -r f; do mv "$f" "${f// /_}"; done
