#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i -E 's#([0-9]{2})/([0-9]{2})/([0-9]{4})#\3-\2-\1#' log.csv
