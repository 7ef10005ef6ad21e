#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd proj && git switch -q release/1.x && git cherry-pick main
