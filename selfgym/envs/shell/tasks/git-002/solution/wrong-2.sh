#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd app && git branch feature/login v1.0
