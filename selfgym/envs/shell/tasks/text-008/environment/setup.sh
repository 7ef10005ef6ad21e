printf '# settings\n[server]\nhost = 0.0.0.0\n   # the port\nport = 8080\n\n   \n[log]\nlevel = info # default\n#end\n' > settings.ini
