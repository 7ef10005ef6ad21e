[ "$SELFGYM_ANSWER" = "tune logging for staging" ]
