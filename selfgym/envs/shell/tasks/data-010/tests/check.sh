head -n 1 ranked.csv | grep -qx 'name,score'
[ "$(tail -n +2 ranked.csv | cut -d, -f2 | tr '\n' ' ')" = "100 91 88 88 72 9 " ]
[ "$(tail -n +2 ranked.csv | sort)" = "$(printf 'kim,88\nlou,9\nmo,100\nnia,72\nolu,88\npat,91')" ]
