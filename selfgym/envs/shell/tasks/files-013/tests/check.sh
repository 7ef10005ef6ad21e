[ "$SELFGYM_ANSWER" = gamma ]
