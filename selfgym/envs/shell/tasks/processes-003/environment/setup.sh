mkdir svc
printf 'while :; do sleep 1; done\n' > svc/worker.sh
printf 'while :; do sleep 1; done\n' > svc/metrics.sh
printf 'while :; do bash /work/svc/worker.sh & wait $!; sleep 0.2; done\n' > svc/run-all.sh
nohup bash /work/svc/run-all.sh > /dev/null 2>&1 &
nohup bash /work/svc/metrics.sh > /dev/null 2>&1 &
sleep 0.3
