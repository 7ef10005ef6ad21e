printf 'alpha\nbeta\ngamma\ndelta\n' > old.txt
printf 'zeta\nbeta\nepsilon\nalpha\neta\ndelta\n' > new.txt
