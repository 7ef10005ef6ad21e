mkdir -p tmp/web tmp/db/old
echo 'web failed' > tmp/web/web.err
echo 'web ok' > tmp/web/web.out
echo 'db failed' > tmp/db/db.err
echo 'db ok' > tmp/db/db.out
echo 'old failure' > tmp/db/old/2023.err
(cd tmp && zip -qr ../logs.zip .)
rm -r tmp
