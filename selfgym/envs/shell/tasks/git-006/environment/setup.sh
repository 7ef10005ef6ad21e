git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir -p web/sub && cd web && git init -q
echo '<html></html>' > index.html && echo 'old' > old.log && git add . && git commit -qm "first page"
echo 'server started' > server.log
echo 'debugging' > sub/debug.log
