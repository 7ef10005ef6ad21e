git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir calc && cd calc && git init -q
printf 'def double(x):\n    return 2 * x\n' > calc.py
printf 'from calc import double\nassert double(4) == 8\n' > test.py
git add . && git commit -qm "double" && git tag good
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  echo "# note $i" >> notes.txt; git add notes.txt
  if [ "$i" = 7 ]; then sed -i 's/return 2 \* x/return x + x if x < 3 else x * x/' calc.py; git add calc.py; fi
  git commit -qm "change $i: $(printf '%s' "tidy notes part $i")"
done
