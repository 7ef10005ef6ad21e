printf '%s\n' 42 7 -3 100 15 -20 8 1000 0 99 > numbers.txt
