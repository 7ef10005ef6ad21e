cat > config.json <<'JSON'
{"version": 2,
 "services": {
   "web": {"image": "nginx", "ports": [80, 443]},
   "api": {"image": "app", "ports": [8080]},
   "metrics": {"image": "prom", "ports": [9090, 22]},
   "cache": {"image": "redis", "ports": [6379]},
   "admin": {"image": "app", "ports": [80, 8001]},
   "batch": {"image": "job", "ports": []}
 }}
JSON
