file -b site.tar.gz | grep -qi gzip
[ "$(tar tzf site.tar.gz | grep -v '/$' | sed 's#^\./##' | sort)" = "$(find site -type f | sort)" ]
[ "$(tar xzOf site.tar.gz site/index.html)" = '<h1>hi</h1>' ]
