[ "$(unzip -Z1 csv.zip | sort | tr '\n' ' ')" = "feb.csv jan.csv mar.csv " ]
[ "$(unzip -p csv.zip jan.csv)" = "$(printf 'day,total\n1,jan')" ]
