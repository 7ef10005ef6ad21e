head -n 1 ranked.csv | grep -qx 'name,score'
[ "$(tail -n +2 ranked.csv | cut -d, -f2 | tr '\n' ' ')" = "100 91 88 88 72 9 " ]
[ "$(tail -n +2 ranked.csv | sort)" = "$(tail -n +2 scores.csv | sort)" ]
