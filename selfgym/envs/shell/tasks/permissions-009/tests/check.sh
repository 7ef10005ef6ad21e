[ "$(cat /logs/artifacts/out.txt)" = "$(printf 'prepared\nfinished\ndeployed')" ]
# the scripts as the setup wrote them (their content must not change)
sha256sum --quiet -c - <<'SUMS'
b467173440ce7187dd3e45cb7e52d59cf411022d52f45db1b8065e481eedb196  deploy.sh
5fae077e95f6fdcb98bd65a175a39ea066e5a2f285d2ebd5e0b6718bc08d95cf  helpers/prepare.sh
397917ac854b1ef4a5d7f33ebbe709adcec0d9ab845db67ae668029a20840eb7  helpers/finish.sh
SUMS
