git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir repo && cd repo && git init -q
echo one > a.txt && git add a.txt && git commit -qm first
echo two >> a.txt && git commit -qam second
echo 'work in progress' >> a.txt && git commit -qam "wip: do not commit"
