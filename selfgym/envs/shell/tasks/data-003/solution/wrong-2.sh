#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
(echo customer,total; jq -r '.[] | "\(.customer),\(.amount)"' orders.json | sort) > totals.csv
