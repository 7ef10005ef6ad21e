#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/^    items = json.load(f)/    items = json.load(f) if os.path.getsize(path) else []/' todo/todo.py
