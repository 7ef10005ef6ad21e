#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd app && git switch -c feature/login
