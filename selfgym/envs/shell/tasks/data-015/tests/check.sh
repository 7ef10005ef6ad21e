[ "$(cat top.txt)" = "$(printf 'dee 80\nbo 77\nann 75')" ]
