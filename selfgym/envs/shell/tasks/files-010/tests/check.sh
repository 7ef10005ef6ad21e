[ "$SELFGYM_ANSWER" = worker-2.log ]
