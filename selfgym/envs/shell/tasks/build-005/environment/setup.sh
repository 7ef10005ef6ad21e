printf 'import sys\n\nfor i in range(1, int(sys.argv[1]) + 1)\n    print(i * i)\n' > report.py
