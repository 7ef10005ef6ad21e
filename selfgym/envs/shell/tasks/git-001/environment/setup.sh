git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir -p notes/ideas
echo 'buy milk' > notes/todo.md
echo 'flying cars' > notes/ideas/future.md
echo 'hello' > notes/README
