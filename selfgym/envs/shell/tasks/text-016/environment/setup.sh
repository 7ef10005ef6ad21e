printf 'one\ntwo\nthree\nfour\n' > list.txt
