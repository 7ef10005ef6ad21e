[ "$(stat -c %a out)" = 750 ]
[ "$(stat -c %a out/report.txt)" = 640 ]
[ "$(cat out/report.txt)" = done ]
