[ "$(cat /logs/artifacts/out.txt)" = "$(printf 'desserts\nreward\nba\n3 words')" ]
