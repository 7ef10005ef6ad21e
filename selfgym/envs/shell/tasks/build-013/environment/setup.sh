cat > stats.py <<'PY'
def mean(xs):
    return sum(xs) / len(xs)


def variance(xs):
    """The sample variance of xs (at least two numbers): the sum of squared deviations divided by n - 1."""
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
PY
