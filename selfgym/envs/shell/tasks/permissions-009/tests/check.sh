[ "$(cat /logs/artifacts/out.txt)" = "$(printf 'prepared\nfinished\ndeployed')" ]
sha256sum --quiet -c .sums
