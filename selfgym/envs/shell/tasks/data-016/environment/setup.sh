printf 'city\tnote\tpop\nOslo\tcold, dark\t700000\nRome\tsays "ciao"\t2800000\nLima\tfine\t9700000\n' > table.tsv
