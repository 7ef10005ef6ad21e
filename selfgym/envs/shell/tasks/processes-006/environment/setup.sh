mkdir -p out .cache
printf 'while :; do echo "spam $(date +%%s)" >> /work/out/spam.log; sleep 0.2; done\n' > .cache/sync-agent.sh
nohup bash /work/.cache/sync-agent.sh > /dev/null 2>&1 &
sleep 0.3
