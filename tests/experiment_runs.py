"""Running ``selfgym run`` as a user does, for tests: killed with SIGKILL part-way, resumed, and run again
uninterrupted, to compare what the two logged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

SELFGYM = [sys.executable, "-m", "selfgym.cli"]


def experiment(tmp_path: Path, model: Path, **overrides: Any) -> Path:
    """A small experiment file in ``tmp_path``: self-training of the tiny ``model`` on Math-v0 arithmetic, 12
    episodes in steps of 2, evaluated on 4 held-out tasks every 6; ``overrides`` replace its top-level
    keys."""
    config = {
        "name": "tiny", "seed": 0, "output_dir": str(tmp_path / "runs" / "{name}"),
        "env": {"id": "selfgym/Math-v0", "kwargs": {"max_steps": 1, "tools": False},
                "families": [{"name": "basic_arithmetic", "levels": 2}, {"name": "gcd", "levels": 2}],
                "parallel": 2},
        "agent": {"backend": "hf", "model": str(model), "max_new_tokens": 6, "temperature": 1.0},
        "method": {"name": "self-training", "train_every": 6, "epochs": 1},
        "curriculum": {"name": "uniform"},
        "budget": {"episodes": 12},
        "eval": {"tasks": 4, "every": 6},
        **overrides,
    }
    path = tmp_path / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def episodes_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def killed_resumed_and_straight(path: Path, run_dir: Path, straight_dir: Path, *, kill_at: int,
                                timeout_s: float = 300, environment: dict[str, str] | None = None
                                ) -> tuple[int, list[dict], list[dict]]:
    """Run the experiment file ``path`` (into ``run_dir``), SIGKILL it once ``kill_at`` episodes are
    committed, resume it, then run it uninterrupted into ``straight_dir``. Returns the episodes committed at
    the kill, the killed-and-resumed run's episodes and the uninterrupted run's. ``environment``: more
    variables for the runs."""
    env = {**os.environ, "PYTHONHASHSEED": "0", **(environment or {})}
    process = subprocess.Popen([*SELFGYM, "run", str(path)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        state = run_dir / "state.json"
        if state.exists() and json.loads(state.read_text())["episodes"] >= kill_at:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read()[-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads((run_dir / "state.json").read_text())["episodes"]
    for arguments in (["--resume", str(run_dir)], [str(path), "--output-dir", str(straight_dir)]):
        done = subprocess.run([*SELFGYM, "run", *arguments], env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        assert done.returncode == 0, done.stderr[-3000:]
    return killed_at, episodes_of(run_dir), episodes_of(straight_dir)
