mkdir team
chmod 755 team
