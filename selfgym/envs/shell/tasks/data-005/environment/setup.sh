cat > prices.csv <<'CSV'
product,date,price
pear,2024-03-01,2.10
apple,2024-01-15,1.00
pear,2024-05-20,2.40
apple,2024-04-02,1.20
fig,2023-12-31,3.00
apple,2024-02-28,1.10
pear,2024-04-30,2.30
CSV
