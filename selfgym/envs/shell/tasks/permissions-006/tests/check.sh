# the folders are the agent's alone (700) by now: stat looks inside them with the agent's rights
p=private
[ "$(as_agent stat -c '%a %n' $p $p/keys $p/bin $p/keys/id $p/bin/tool $p/notes $p/bin/run $p/keys/weird $p/readonly $p/bin/locked | sed 's#private/##')" = "$(printf '700 private\n700 keys\n700 bin\n600 keys/id\n700 bin/tool\n600 notes\n700 bin/run\n600 keys/weird\n600 readonly\n700 bin/locked')" ]
