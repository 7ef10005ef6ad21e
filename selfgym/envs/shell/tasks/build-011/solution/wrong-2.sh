#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'def slugify(text):\n    return text.lower().replace(" ", "-")\n' > slug.py
