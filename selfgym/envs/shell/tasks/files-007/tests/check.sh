for f in pdf/report.PDF jpg/photo.jpg jpg/scan.jpg txt/notes.txt txt/todo.TXT; do
  [ "$(cat "inbox/$f")" = "$(basename "$f")" ]
done
[ -z "$(find inbox -maxdepth 1 -type f)" ]
