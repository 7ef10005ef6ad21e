#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mv app/app.log app/app.log.1
