mkdir -p links/sub target
echo a > target/a
ln -s ../target/a links/good
ln -s ../target/missing links/bad
ln -s ../../target/a links/sub/good2
ln -s /nowhere/at/all links/sub/bad2
ln -s good links/chain
echo plain > links/file
