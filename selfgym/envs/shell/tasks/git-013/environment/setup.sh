git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir proj && cd proj && git init -q
printf 'a\nb\nc\n' > parser.txt && echo v1 > VERSION && git add . && git commit -qm "1.0"
git branch release/1.x
echo 'feature' > feature.txt && git add . && git commit -qm "new feature"
sed -i 's/^b$/b-fixed/' parser.txt && git commit -qam "fix overflow in parser"
echo v2 > VERSION && git commit -qam "bump to 2"
