git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir big && cd big && git init -q
head -c 5000 /dev/zero > small.bin && git add . && git commit -qm one
mkdir -p assets && head -c 900000 /dev/zero | tr '\0' 'a' > assets/video.raw && git add . && git commit -qm two
git rm -q assets/video.raw && git commit -qm three
git switch -qc side && head -c 400000 /dev/zero > side.bin && git add . && git commit -qm side
git switch -q main && head -c 700000 /dev/zero > main.bin && git add . && git commit -qm four
