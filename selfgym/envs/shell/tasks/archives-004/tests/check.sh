[ "$SELFGYM_ANSWER" = quartz-harbor-17 ]
