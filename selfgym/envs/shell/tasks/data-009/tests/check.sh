[ "$(cat pivot.csv)" = "$(printf 'region,Q1,Q2,Q3,Q4\neast,1,0,0,8\nnorth,17,0,3,0\nsouth,0,11,0,2')" ]
