#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
rm parts/*.gz
