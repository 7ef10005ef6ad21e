mkdir site
echo '<h1>welcome</h1>' > site/index.html
echo 'v1.2.3' > site/version.txt
