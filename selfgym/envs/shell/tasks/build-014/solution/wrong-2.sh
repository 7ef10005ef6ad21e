#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'fetch\nconfig\nparse\nbuild\ntest\npackage\nrelease\n' > order.txt
