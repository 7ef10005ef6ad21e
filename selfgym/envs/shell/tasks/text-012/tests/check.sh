[ "$(cat emails.txt)" = "$(printf 'ann@example.com\nbob.smith@example.org\nhelp-desk@support.example.net\nzed_99@x.io')" ]
