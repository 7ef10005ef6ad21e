printf 'sku,name,price\nA1,lamp,19.5\nB7,chair,45\nC3,desk,120.25\n' > items.csv
