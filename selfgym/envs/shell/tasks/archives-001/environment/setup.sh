mkdir -p payload/b
echo alpha > payload/a.txt
echo gamma > payload/b/c.txt
tar czf backup.tar.gz -C payload .
rm -r payload
