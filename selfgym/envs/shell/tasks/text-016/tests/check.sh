[ "$(cat reversed.txt)" = "$(printf 'four\nthree\ntwo\none')" ]
