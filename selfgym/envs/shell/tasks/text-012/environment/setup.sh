cat > mail.txt <<'TXT'
From: Ann <ann@example.com>, cc bob.smith@Example.org
reply to ANN@example.com or to help-desk@support.example.net.
not an address: @nobody, user@, me at home
last: zed_99@x.io
TXT
