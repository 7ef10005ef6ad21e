#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's/data\["timeout"\] = int(data\["timeout"\])/data["timeout"] = int(data.get("timeout", 30))/' svc/settings.py
