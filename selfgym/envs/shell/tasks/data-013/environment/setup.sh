printf '%s\n' 120 35 980 42 77 51 66 310 45 88 29 > latency.txt
