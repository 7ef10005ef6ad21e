mkdir -p "music/old albums"
for f in "music/my song.mp3" "music/a  b  c.ogg" "music/old albums/live at home.mp3" "music/plain.mp3"; do echo "$f" > "$f"; done
