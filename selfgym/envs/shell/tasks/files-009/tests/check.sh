dirs=$(printf '.\n./app\n./app/models\n./app/views\n./lib\n./lib/util\n./tests')
[ "$(cd skeleton && find . -type d | sort)" = "$dirs" ]
[ -z "$(find skeleton ! -type d)" ]
# src as it was: the same folders, one file.py in each of six of them
[ "$(cd src && find . -type d | sort)" = "$dirs" ]
[ "$(cd src && find . -type f | sort | tr '\n' ' ')" = "./app/file.py ./app/models/file.py ./app/views/file.py ./file.py ./lib/util/file.py ./tests/file.py " ]
