mkdir load
printf 'import sys, time\nblob = bytearray(int(sys.argv[1]) * 1024 * 1024)\nwhile True:\n    time.sleep(1)\n' > load/burn.py
for mb in 5 60 8 3; do nohup python3 /work/load/burn.py "$mb" > /dev/null 2>&1 & done
sleep 1
