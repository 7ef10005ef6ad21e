[ "$(cat latest.csv)" = "$(printf 'product,date,price\napple,2024-04-02,1.20\nfig,2023-12-31,3.00\npear,2024-05-20,2.40')" ]
