mkdir app
cat > app/pages.py <<'PY'
def page(items, number, size):
    """The items of page `number` (1 is the first page) when `items` is cut into pages of `size` items."""
    start = (number - 1) * size + 1
    return items[start:start + size]
PY
