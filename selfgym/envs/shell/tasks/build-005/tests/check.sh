[ "$(cat /logs/artifacts/out.txt)" = "$(printf '1\n4\n9\n16\n25\n36')" ]
