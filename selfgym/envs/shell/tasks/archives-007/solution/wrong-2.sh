#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tar czf src.tar.gz --exclude='*.log' project
