mkdir reports
for m in jan feb mar; do printf 'day,total\n1,%s\n' "$m" > "reports/$m.csv"; done
echo 'summary' > reports/summary.txt
