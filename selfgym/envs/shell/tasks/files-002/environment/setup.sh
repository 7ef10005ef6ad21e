mkdir docs
for name in intro usage faq; do echo "# $name" > "docs/$name.txt"; done
echo "notes" > docs/notes.rst
