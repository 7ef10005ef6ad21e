printf 'id,date,note\n1,03/14/2024,pi day\n2,12/01/2023,12/01 is a date\n3,07/04/2024,fireworks\n' > log.csv
