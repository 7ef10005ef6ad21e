#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'import re\n\n\ndef slugify(text):\n    return re.sub(r"\\W+", "-", text.lower()).strip("-")\n' > slug.py
