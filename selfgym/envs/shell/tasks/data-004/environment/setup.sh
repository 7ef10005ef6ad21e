printf 'id,name\n3,carla\n1,ahmed\n7,bea\n2,dmitri\n' > users.csv
printf 'user_id,day\n1,mon\n3,mon\n1,tue\n7,tue\n1,wed\n3,thu\n9,fri\n' > logins.csv
