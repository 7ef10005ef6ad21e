[ "$(tar tzf src.tar.gz | grep -v '/$' | sort | tr '\n' ' ')" = "project/logs/README project/package.json project/src/main.js " ]
