[ "$SELFGYM_ANSWER" = assets/video.raw ]
