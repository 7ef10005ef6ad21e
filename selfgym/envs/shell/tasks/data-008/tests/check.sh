[ "$(cat acme.txt)" = "$(printf 'ann@acme.test\ncal@acme.test')" ]
