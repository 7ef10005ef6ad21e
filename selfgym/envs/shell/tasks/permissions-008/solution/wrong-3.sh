#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
["find tree -perm -4000 -exec chmod u-s {} \\;", "submit tree/a/b/two tree/c/three"]
