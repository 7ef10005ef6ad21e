mkdir svc
cat > svc/settings.py <<'PY'
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    data["timeout"] = int(data["timeout"])
    return data


if __name__ == "__main__":
    print(sorted(load(sys.argv[1]).items()))
PY
echo '{"name": "svc", "timeout": "10"}' > svc/settings.json
