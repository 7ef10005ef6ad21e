mkdir -p tmp/etc/app tmp/var/lib
echo 'level: debug' > tmp/etc/app/config.yml
echo 'secret' > tmp/etc/app/keys.yml
echo 'db' > tmp/var/lib/db
tar cjf backup.tar.bz2 -C tmp etc var
rm -r tmp
