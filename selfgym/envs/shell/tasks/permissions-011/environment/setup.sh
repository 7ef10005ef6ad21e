mkdir -p www/css www/cgi-bin
for f in www/index.html www/css/site.css www/cgi-bin/form.cgi www/cgi-bin/readme.txt www/app.cgi; do echo x > "$f"; done
chmod 600 www/index.html www/cgi-bin/form.cgi
chmod 700 www/css www/app.cgi
chmod 711 www/cgi-bin
chmod 640 www/css/site.css
