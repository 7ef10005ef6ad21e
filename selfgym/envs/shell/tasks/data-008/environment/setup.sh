cat > contacts.csv <<'CSV'
name,company,email
"Lee, Ann","Acme, Inc.",ann@acme.test
Bob,Acme,bob@acme-lite.test
"Ng, Cal","Acme, Inc.",cal@acme.test
Dee,"Beta, Ltd.",dee@beta.test
Eve,"Acme, Inc. (old)",eve@old.test
CSV
