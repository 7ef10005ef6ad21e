git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir tools && cd tools && git init -q
echo r > README && git add . && git commit -qm r && git tag v0.1
echo i > install.sh && git add . && git commit -qm i && git tag v0.2
echo x > x && git add . && git commit -qm x && git tag v0.3
git rm -q install.sh && git commit -qm rm && git tag v1.0
echo i2 > install.sh && git add . && git commit -qm back && git tag v1.1
