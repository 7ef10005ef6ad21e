[ "$(cat order.txt)" = "$(printf 'config\nfetch\nparse\nbuild\npackage\ntest\nrelease')" ]
