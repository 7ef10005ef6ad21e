mkdir inbox
n=0
for f in a.txt b.txt c.txt d.txt e.txt f.txt; do
  n=$((n + 1)); echo "$f" > "inbox/$f"
done
touch -d '2024-01-01' inbox/a.txt; touch -d '2024-03-05' inbox/b.txt; touch -d '2024-02-01' inbox/c.txt
touch -d '2024-03-01' inbox/d.txt; touch -d '2023-12-01' inbox/e.txt; touch -d '2024-03-09' inbox/f.txt
