git config --global init.defaultBranch main
mkdir team && cd team && git init -q
c() { echo "$2" >> log.txt; git add log.txt; GIT_AUTHOR_NAME="$1" GIT_AUTHOR_EMAIL=x@y GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@y git commit -qm "$2"; }
c "Priya Nair" one; c "Sam Lee" two; c "Priya Nair" three
git switch -qc feature; c "Priya Nair" four; c "Priya Nairobi" five
git switch -q main; c "Sam Lee" six; c "Priya Nair" seven
