# out is closed to others (750): what is inside is read with the agent's rights
[ "$(stat -c %a out)" = 750 ]
[ "$(as_agent stat -c %a out/report.txt)" = 640 ]
[ "$(as_agent cat out/report.txt)" = done ]
