cat > orders.json <<'JSON'
[{"customer": "zed", "amount": 10}, {"customer": "amy", "amount": 5}, {"customer": "zed", "amount": 7},
 {"customer": "bob", "amount": 12}, {"customer": "amy", "amount": 30}, {"customer": "bob", "amount": 1}]
JSON
