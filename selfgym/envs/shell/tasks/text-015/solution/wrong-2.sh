#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cp template.txt out.txt && while IFS== read -r k v; do sed -i "s#{{$k}}#$v#" out.txt; done < values.env
