[ "$(cat /logs/artifacts/out.txt)" = "$(printf '3 a.txt\n0 empty.txt\n0 blank.txt\n4 b.txt\n7 total')" ]
