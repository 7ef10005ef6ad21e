printf 'Caf\xe9 cr\xe8me\r\nna\xefve r\xe9sum\xe9\r\n\xa9 2024\r\n' > legacy.txt
