for commit in $(vgit vault rev-list --all); do
  if vgit vault ls-tree -r --name-only "$commit" | grep -qx credentials.env; then echo "credentials.env in $commit"; exit 1; fi
done
[ "$(vgit vault show main:app.py)" = "$(printf 'import os\nprint(2)')" ]
[ "$(vgit vault show dev:app.py)" = "$(printf 'import os\nprint(1)')" ]
[ "$(vgit vault show main:README.md)" = '# vault' ]
