[ "$(cat clean.ini)" = "$(printf '[server]\nhost = 0.0.0.0\nport = 8080\n[log]\nlevel = info # default')" ]
