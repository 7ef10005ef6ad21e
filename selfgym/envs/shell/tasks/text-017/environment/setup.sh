cat > words.txt <<'TXT'
The cat and the hat. THE end, and... the cat!
A hat; a Cat? And then: the dog.
TXT
