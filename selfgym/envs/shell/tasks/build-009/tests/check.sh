[ "$(cat /logs/artifacts/out.txt)" = "$(printf '9969216677189303386214405760200\n1\n0')" ]
