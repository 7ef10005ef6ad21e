[ "$SELFGYM_ANSWER" = "Tom Berg" ]
