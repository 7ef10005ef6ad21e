#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
python3 server.py & echo $! > server.pid; kill %1
