printf 'import time\nwhile True:\n    time.sleep(1)\n' > server.py
