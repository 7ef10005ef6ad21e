[ -z "$(pgrep -f '[h]og\.sh')" ]
[ -n "$(pgrep -f '[k]eeper\.sh')" ]
