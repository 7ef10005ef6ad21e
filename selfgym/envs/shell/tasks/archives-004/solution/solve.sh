#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir x && tar xJf delivery.tar.xz -C x && ls x && unzip -p x/payload.zip flag.txt
printf '%s' quartz-harbor-17 > /work/answer.txt
