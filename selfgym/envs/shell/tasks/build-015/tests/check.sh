[ "$(cat /logs/artifacts/out.txt)" = "$(printf '1. buy milk\n2. call mum')" ]
