[ -z "$(find docs -name '*.txt')" ]
for name in intro usage faq; do [ "$(cat "docs/$name.md")" = "# $name" ]; done
[ "$(cat docs/notes.rst)" = notes ]
[ "$(ls docs | wc -l)" = 4 ]
