git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir proj && cd proj && git init -q
printf 'timeout=10\nretries=3\n' > config.txt && git add . && git commit -qm base
git switch -qc fix
printf 'timeout=30\nretries=5\n' > config.txt && echo patched > fix.txt && git add . && git commit -qm "fix timeouts"
git switch -q main
printf 'timeout=20\nretries=3\n' > config.txt && git commit -qam "tweak timeout"
