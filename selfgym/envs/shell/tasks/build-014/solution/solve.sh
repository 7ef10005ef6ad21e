#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
python3 -c '
import ast, pathlib
deps = {p.stem: ast.literal_eval(p.read_text().split("=", 1)[1].strip()) for p in pathlib.Path("steps").glob("*.py")}
done = []
while len(done) < len(deps):
    ready = sorted(s for s in deps if s not in done and all(d in done for d in deps[s]))
    done.append(ready[0])
open("order.txt", "w").write("\n".join(done) + "\n")'
