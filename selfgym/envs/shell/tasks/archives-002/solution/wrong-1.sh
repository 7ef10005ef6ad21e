#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd site && tar czf ../site.tar.gz .
