mkdir calc
cat > calc/calc.py <<'PY'
def add(a, b):
    """The sum of the integers a and b."""
    if a < 0 or b < 0:
        return abs(a) + abs(b)
    return a + b
PY
