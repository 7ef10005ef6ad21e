cat > sales.csv <<'CSV'
region,quarter,amount
north,Q1,10
south,Q2,5
north,Q1,7
north,Q3,3
east,Q4,8
south,Q2,6
east,Q1,1
south,Q4,2
CSV
