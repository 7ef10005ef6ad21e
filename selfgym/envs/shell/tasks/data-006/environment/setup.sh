for i in $(seq 1 40); do
  case $((i % 5)) in 0) l=error;; 1) l=info;; 2) l=warning;; 3) l=info;; 4) l=debug;; esac
  printf '{"id": %d, "level": "%s", "msg": "error-free event %d"}\n' "$i" "$l" "$i"
done > events.jsonl
