[ -f out/spam.log ]
sleep 1
[ ! -s out/spam.log ]
