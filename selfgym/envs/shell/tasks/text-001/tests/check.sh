[ "$(tr -d ' \n' < count.txt)" = 28 ]
