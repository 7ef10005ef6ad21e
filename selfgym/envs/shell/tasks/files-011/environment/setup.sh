mkdir -p tmp/a/b tmp/c tmp/d/e
: > tmp/a/b/empty.log
echo keep > tmp/c/keep.txt
: > tmp/c/zero
: > tmp/top-empty
echo x > tmp/d/data
