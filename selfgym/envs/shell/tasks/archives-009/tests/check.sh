[ -f photos.zip ]
[ "$(tar tzf photos.tar.gz | grep -v '/$' | sed 's#^\./##' | sort | tr '\n' ' ')" = "2023/a.jpg 2024/b.jpg 2024/summer/c.jpg " ]
[ "$(tar xzOf photos.tar.gz "$(tar tzf photos.tar.gz | grep 'summer/c.jpg')")" = p/2024/summer/c.jpg ]
