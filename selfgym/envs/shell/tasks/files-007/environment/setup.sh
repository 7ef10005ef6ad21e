mkdir inbox
for f in report.PDF photo.jpg notes.txt todo.TXT scan.jpg; do echo "$f" > "inbox/$f"; done
