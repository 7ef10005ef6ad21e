[ "$(vgit notes log --format=%s)" = "initial notes" ]
[ "$(cd notes && vgit . ls-files | sort | tr '\n' ' ')" = "README ideas/future.md todo.md " ]
[ -z "$(cd notes && vgit . status --porcelain)" ]
