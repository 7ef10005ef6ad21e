[ "$(stat -c '%a' app/conf/main.cfg 'app/conf/local copy.cfg' app/bin/serve app/README | tr '\n' ' ')" = "640 600 755 444 " ]
