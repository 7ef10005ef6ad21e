mkdir svc
printf 'while :; do sleep 1; done\n' > svc/hog.sh
printf 'while :; do sleep 1; done\n' > svc/keeper.sh
nohup bash /work/svc/hog.sh > /dev/null 2>&1 &
nohup bash /work/svc/keeper.sh > /dev/null 2>&1 &
