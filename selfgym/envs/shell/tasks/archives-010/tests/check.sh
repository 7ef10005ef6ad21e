[ "$SELFGYM_ANSWER" = docs.pdf ]
