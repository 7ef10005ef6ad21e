#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's#^/work/helpers/prepare.sh#bash /work/helpers/prepare.sh#' deploy.sh
