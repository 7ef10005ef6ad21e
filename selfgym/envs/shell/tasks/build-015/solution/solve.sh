#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
python3 - <<'PY'
text = open("todo/todo.py").read()
text = text.replace("with open(path) as f:\n    items = json.load(f)", "items = []\nif os.path.exists(path):\n    with open(path) as f:\n        items = json.load(f)")
open("todo/todo.py", "w").write(text)
PY
