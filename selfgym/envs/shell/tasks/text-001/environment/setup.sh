for i in $(seq 1 200); do
  if [ $((i % 7)) -eq 0 ]; then echo "2024-03-01 12:00:$((i % 60)) ERROR request $i failed"
  else echo "2024-03-01 12:00:$((i % 60)) INFO request $i ok"; fi
done > app.log
