[ "$(cat added.txt)" = "$(printf 'zeta\nepsilon\neta')" ]
