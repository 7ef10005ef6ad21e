[ "$(cat /logs/artifacts/out.txt)" = 'Mixed Case Words A B 5 0' ]
# the tests as the setup wrote them (they must not change)
[ "$(cut -d' ' -f1 /logs/artifacts/tests.sha256)" = 61c4834b1169a4f527f0c605e6af090036033175831275167b15be24440d056f ]
