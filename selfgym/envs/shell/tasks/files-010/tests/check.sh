# the name or a path to the file; not basename, which reads "app.log/worker-2.log" as worker-2.log
case "$SELFGYM_ANSWER" in
  worker-2.log | logs/worker-2.log | ./logs/worker-2.log | /work/logs/worker-2.log) ;;
  *) exit 1 ;;
esac
