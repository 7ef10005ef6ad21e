file -b site.tar.gz | grep -qi gzip
[ "$(tar tzf site.tar.gz | grep -v '/$' | sed 's#^\./##' | sort | tr '\n' ' ')" = "site/css/main.css site/img/logo.png site/index.html " ]
[ "$(tar xzOf site.tar.gz site/css/main.css)" = 'body {}' ]
[ "$(tar xzOf site.tar.gz site/index.html)" = '<h1>hi</h1>' ]
