cat > records.jsonl <<'JSON'
{"id": "r1", "email": "a@x.test", "qty": 3}
{"id": "r2", "email": "bx.test", "qty": 1}
{"id": "r3", "email": "c@x.test", "qty": -2}
{"id": "r4", "email": "d@x.test", "qty": "5"}
{"id": "r5", "email": "e@@x.test", "qty": 0}
{"id": "r6", "email": "f@x.test", "qty": 2.5}
{"id": "r7", "email": "g@x.test", "qty": 7}
{"id": "r8", "qty": 1}
JSON
