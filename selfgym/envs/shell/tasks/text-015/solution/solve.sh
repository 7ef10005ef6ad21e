#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
python3 -c 'import re; v = dict(l.rstrip("\n").split("=", 1) for l in open("values.env") if "=" in l); open("out.txt", "w").write(re.sub(r"\{\{(\w+)\}\}", lambda m: v.get(m.group(1), m.group(0)), open("template.txt").read()))'
