mkdir legacy
cat > legacy/tool.py <<'PY'
import sys

words = sys.argv[1:]
for w in words:
    print w[::-1]
print "%d words" % len(words)
PY
