[ "$(cat totals.csv)" = "$(printf 'customer,total\namy,35\nbob,13\nzed,17')" ]
