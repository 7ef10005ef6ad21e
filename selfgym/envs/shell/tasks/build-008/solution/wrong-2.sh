#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/data\["timeout"\] = int(data\["timeout"\])/data["timeout"] = 30/' svc/settings.py
