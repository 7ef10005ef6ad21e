cat > words.txt <<'TXT'
the cat sat on the mat
a dog sat on a log
the dog and the cat
the cat saw the cat sat
TXT
