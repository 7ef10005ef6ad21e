cat > slug.py <<'PY'
def slugify(text):
    """Lower case; every run of characters that are not ASCII letters or digits becomes one hyphen; no
    hyphen at the start or the end. slugify("Hello, World!") == "hello-world"."""
    raise NotImplementedError
PY
