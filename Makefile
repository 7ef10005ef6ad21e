# The two commands of README.md: `make demo` and `make test`. Both set up what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean-sandboxes
setup:
	./scripts/setup.sh

demo: setup
	$(BIN)/selfgym run experiments/quickstart.yaml

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/sandbox_bench.py
	$(BIN)/python benchmarks/envs_bench.py
	$(BIN)/python benchmarks/web_bench.py
	$(BIN)/python benchmarks/rollout_bench.py
	$(BIN)/python benchmarks/harbor_bench.py

clean-sandboxes:
	$(BIN)/selfgym sandbox reap --all
