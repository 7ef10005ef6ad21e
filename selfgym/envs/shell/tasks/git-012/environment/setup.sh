git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
export GIT_AUTHOR_DATE='2024-01-01T10:00:00Z' GIT_COMMITTER_DATE='2024-01-01T10:00:00Z'
mkdir app && cd app && git init -q
echo base > base.txt && git add . && git commit -qm "base"
echo pay > payment.py && git add . && git commit -qm "add payment module"
git reset -q --hard HEAD~1
