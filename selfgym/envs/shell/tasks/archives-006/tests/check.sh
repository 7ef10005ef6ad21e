[ "$(ls errors | tr '\n' ' ')" = "2023.err db.err web.err " ]
[ "$(cat errors/web.err errors/db.err errors/2023.err)" = "$(printf 'web failed\ndb failed\nold failure')" ]
