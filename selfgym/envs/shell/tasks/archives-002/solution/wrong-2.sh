#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tar cf site.tar.gz site
