[ "$(cat dates.txt)" = "$(printf 'invoice 17 due 2023-12-25, paid 2024-01-02\nrenewal: 2024-03-31\nno date here 12/2024')" ]
