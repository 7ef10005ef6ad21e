mkdir -p tree/sub/deeper tree/.cache tree/empty
echo a > tree/a.txt
echo h > tree/.hidden
echo b > tree/sub/b.txt
echo e > tree/sub/.env
echo c > tree/sub/deeper/c.txt
echo x > tree/.cache/config
ln -s a.txt tree/link
