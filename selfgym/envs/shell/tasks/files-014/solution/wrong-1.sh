#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd music && for f in *' '*; do mv "$f" "${f// /_}"; done
