mkdir hello
printf 'def say_hello(name):\n    return f"Hello, {name}!"\n' > hello/greet.py
printf 'import sys\nfrom greet import say_helo\n\nprint(say_helo(sys.argv[1]))\n' > hello/main.py
