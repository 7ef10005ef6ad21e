for spec in ann:40 bo:15 cy:70 ann:35 dee:60 bo:50 cy:5 eli:9 dee:20 bo:12; do
  printf '{"user": "%s", "total": %s}\n' "${spec%%:*}" "${spec#*:}"
done > purchases.jsonl
