#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir x && unzip -q -j photos.zip -d x && tar czf photos.tar.gz -C x . && rm -r x
