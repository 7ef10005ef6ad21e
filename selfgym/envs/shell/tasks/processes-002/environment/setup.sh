nohup sleep 86399 > /dev/null 2>&1 &
nohup sleep 86400 > /dev/null 2>&1 &
nohup sleep 864000 > /dev/null 2>&1 &
