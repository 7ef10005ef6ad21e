[ "$(cat table.csv)" = "$(printf 'city,note,pop\nOslo,"cold, dark",700000\nRome,"says ""ciao""",2800000\nLima,fine,9700000')" ]
