[ "$(cat out.txt)" = "$(printf 'Hello dana, your plan is pro & more.\nRenew by 2024/12/31. dana, keep {{UNKNOWN}} safe.')" ]
