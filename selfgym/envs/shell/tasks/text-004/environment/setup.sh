cat > sales.csv <<'CSV'
id,region,amount
1,EU,120
2,US,300
3,EU,75
4,APAC,410
5,EU-West,999
6,EU,1000
7,US,15
8,EU,5
9,APAC,60
10,EU,301
CSV
