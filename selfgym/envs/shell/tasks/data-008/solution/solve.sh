#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
python3 -c 'import csv; rows = csv.DictReader(open("contacts.csv")); open("acme.txt", "w").write("".join(r["email"] + "\n" for r in rows if r["company"] == "Acme, Inc."))'
