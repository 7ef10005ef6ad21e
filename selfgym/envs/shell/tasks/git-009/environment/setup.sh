git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir lib && cd lib && git init -q
printf 'def helper():\n    return 1\n' > utils.py && echo main > main.py && git add . && git commit -qm "start"
printf 'def helper():\n    return 2\n' > utils.py && git commit -qam "tune helper"
git rm -q utils.py && git commit -qm "cleanup"
echo more >> main.py && git commit -qam "more main"
