cat > wc.py <<'PY'
import sys

total = 0
for name in sys.argv[1:]:
    with open(name) as f:
        lines = f.read().split("\n")
    words = sum(len(line.split()) for line in lines[:-1]) + len(lines[-1].split())
    first = lines[0].split()[0]  # the first word, for the log
    total += words
    print(words, name)
print(total, "total")
PY
