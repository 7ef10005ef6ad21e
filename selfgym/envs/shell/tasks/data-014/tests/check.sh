[ "$(cat log.csv)" = "$(printf 'id,date,note\n1,2024-03-14,pi day\n2,2023-12-01,12/01 is a date\n3,2024-07-04,fireworks')" ]
