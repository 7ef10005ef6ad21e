[ "$(cat top5.txt)" = "$(printf '5 the\n3 and\n3 cat\n2 a\n2 hat')" ]
