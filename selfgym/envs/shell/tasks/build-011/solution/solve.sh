#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf 'import re\n\n\ndef slugify(text):\n    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n' > slug.py
