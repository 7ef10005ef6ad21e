#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tar czf photos.tar.gz photos.zip
