mkdir -p site/css site/img
echo '<h1>hi</h1>' > site/index.html
echo 'body {}' > site/css/main.css
printf 'PNG' > site/img/logo.png
