printf 'invoice 17 due 25/12/2023, paid 02/01/2024\nrenewal: 31/03/2024\nno date here 12/2024\n' > dates.txt
