[ "$SELFGYM_ANSWER" = "change 7: tidy notes part 7" ]
