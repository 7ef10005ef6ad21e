git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir app && cd app && git init -q
echo 'v0' > app.py && git add app.py && git commit -qm "scaffold"
echo 'login stub' >> app.py && git commit -qam "add login stub"
git tag v1.0
echo 'payments' >> app.py && git commit -qam "start payments"
