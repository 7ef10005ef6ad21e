git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir vault && cd vault && git init -q
echo '# vault' > README.md && git add . && git commit -qm "readme"
echo 'API_KEY=sk-live-123' > credentials.env && echo 'import os' > app.py && git add . && git commit -qm "app"
git switch -qc dev
echo 'print(1)' >> app.py && git commit -qam "dev work"
git switch -q main
git rm -q credentials.env && git commit -qm "remove credentials"
echo 'print(2)' >> app.py && git commit -qam "more app"
