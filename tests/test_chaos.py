"""Chaos: sandboxes killed at random (``docker kill``) under a running `selfgym eval` and `selfgym run`.

A lost sandbox is the infrastructure's failure, never the agent's (issue 20, fault 8): the scripted oracle must
still score 100%, the episode log must show the replayed attempts, and a curriculum must never be told of a
failure. The runs are real CLI processes; the killer picks among the containers that process owns.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from selfgym.sandbox import docker_client
from selfgym.sandbox.reaper import LABEL_PID

pytestmark = pytest.mark.docker
SELFGYM = [sys.executable, "-m", "selfgym"]


class Killer(threading.Thread):
    """Kills one random running container of ``pid``'s every ``interval_s`` until the process ends (or
    ``max_kills``)."""

    def __init__(self, process: subprocess.Popen, interval_s: float = 0.25, max_kills: int = 12) -> None:
        super().__init__(daemon=True)
        self.process, self.interval_s, self.max_kills = process, interval_s, max_kills
        self.killed: list[str] = []
        self.rng = random.Random(0)

    def run(self) -> None:
        client = docker_client()
        while self.process.poll() is None and len(self.killed) < self.max_kills:
            time.sleep(self.interval_s)
            running = client.containers.list(filters={"label": f"{LABEL_PID}={self.process.pid}"})
            if not running:
                continue
            victim = self.rng.choice(running)
            try:
                victim.kill()
                self.killed.append(victim.short_id)
            except Exception:  # noqa: BLE001 - it was closed meanwhile
                pass


def replayed(episodes: list[dict]) -> list[str]:
    """The ids of the episodes that were replayed on a fresh sandbox (any step's ``infra_retries``)."""
    return [episode["task"]["id"] for episode in episodes
            if any(step["info"].get("infra_retries") for step in episode["steps"])]


def run_under_fire(argv: list[str], min_kills: int = 4) -> Killer:
    for attempt in range(3):  # a run that ends before the killer got going says nothing: run it longer
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        killer = Killer(process)
        killer.start()
        _, stderr = process.communicate(timeout=600)
        killer.join()
        assert process.returncode == 0, stderr[-3000:]
        if len(killer.killed) >= min_kills:
            return killer
    pytest.fail(f"the run ended before {min_kills} sandboxes could be killed")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_killing_sandboxes_during_an_eval_costs_the_oracle_nothing(tmp_path):
    out = tmp_path / "eval"
    killer = run_under_fire([*SELFGYM, "eval", "code", "--agent", "scripted:oracle", "--workers", "2",
                             "--limit", "100", "--out", str(out), "--no-progress"])
    results = json.loads((out / "summary.json").read_text())["results"]
    assert (results["success_rate"], results["errors"], results["episodes"]) == (1.0, 0, 500), killer.killed
    episodes = read_jsonl(out / "episodes.jsonl")
    assert all(episode["success"] and episode["status"] == "done" for episode in episodes)
    print(f"{len(killer.killed)} sandboxes killed, {len(replayed(episodes))} episodes replayed")
    assert replayed(episodes), f"{len(killer.killed)} kills, no episode replayed"


def test_killing_sandboxes_during_an_experiment_is_not_a_failure_of_the_agent_or_for_the_curriculum(tmp_path):
    config = {
        "name": "chaos", "seed": 0, "output_dir": str(tmp_path / "runs" / "{name}"),
        "env": {"id": "selfgym/Code-v0", "kwargs": {"max_steps": 1}, "parallel": 2},
        "agent": {"backend": "scripted", "model": "oracle"},
        "method": {"name": "eval-only"},
        "curriculum": {"name": "learnability"},
        "budget": {"episodes": 400},
        "eval": {"tasks": 8},
    }
    path = tmp_path / "chaos.yaml"
    path.write_text(yaml.safe_dump(config))
    killer = run_under_fire([*SELFGYM, "run", str(path)])
    run_dir = tmp_path / "runs" / "chaos"
    episodes = read_jsonl(run_dir / "episodes.jsonl")
    assert len(episodes) == 400 and all(e["success"] and e["error"] is None for e in episodes), killer.killed
    print(f"{len(killer.killed)} sandboxes killed, {len(replayed(episodes))} episodes replayed")
    assert replayed(episodes), f"{len(killer.killed)} kills, no episode replayed"
    curriculum = json.loads((run_dir / "curriculum.json").read_text())
    state = curriculum.get("state", curriculum)
    assert sum(state["trials"]) > 0
    assert state["successes"] == pytest.approx(state["trials"])  # every outcome it was told of: a success
    evals = read_jsonl(run_dir / "evals.jsonl")
    assert all(row["success"] == 1.0 for row in evals)
