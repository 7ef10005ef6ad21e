#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'def test_nothing():\n    pass\n' > lib/test_text.py
