mkdir lib
cat > lib/text.py <<'PY'
def title_case(s):
    """Every word (split on single spaces) with its first letter upper case and the rest lower case."""
    return " ".join(w[0].upper() + w[1:] for w in s.split(" "))


def count_vowels(s):
    """How many of the letters a, e, i, o, u (either case) are in s."""
    return sum(1 for c in s if c in "aeiou")
PY
cat > lib/test_text.py <<'PY'
from text import count_vowels, title_case


def test_title_case():
    assert title_case("hello WORLD") == "Hello World"


def test_count_vowels():
    assert count_vowels("Apple") == 2
PY
