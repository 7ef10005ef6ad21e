mkdir todo
cat > todo/todo.py <<'PY'
import json
import os
import sys

path = os.environ["TODO_FILE"]
command = sys.argv[1]
with open(path) as f:
    items = json.load(f)
if command == "add":
    items.append(" ".join(sys.argv[2:]))
    with open(path, "w") as f:
        json.dump(items, f)
elif command == "list":
    for number, item in enumerate(items, start=1):
        print(f"{number}. {item}")
PY
