"""The Ray executor on a local 2-CPU cluster (one for the module: Ray starts slowly): the same results as the
local executor, and a run that survives an actor killed with SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import ray
from eval_suites import he_suite, mixed_suite

from selfgym.runtime import RayExecutor
from selfgym.eval import expand_suite, load_suite, run_eval

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def by_key(folder) -> dict[str, dict]:
    records = [json.loads(line) for line in (folder / "episodes.jsonl").read_text().splitlines()]
    return {r["meta"]["eval"]["key"]: r for r in records}


def test_two_actors_give_the_same_results_as_local_threads(tmp_path):
    suite = mixed_suite(tmp_path)
    local = run_eval(suite, "scripted:oracle", tmp_path / "local", workers=2, progress=False)
    executor = RayExecutor(2)
    remote = run_eval(suite, "scripted:oracle", tmp_path / "ray", executor=executor, progress=False)
    assert remote["results"] == local["results"] and remote["suite"] == local["suite"]
    assert remote["results"]["successes"] == 10  # mixed outcomes, not a trivial all-pass
    local_episodes, ray_episodes = by_key(tmp_path / "local"), by_key(tmp_path / "ray")
    assert local_episodes.keys() == ray_episodes.keys()
    for key, record in local_episodes.items():
        other = ray_episodes[key]
        assert [s["action"] for s in record["steps"]] == [s["action"] for s in other["steps"]]
        assert [s["reward"] for s in record["steps"]] == [s["reward"] for s in other["steps"]]
        assert record["meta"]["eval"]["seed"] == other["meta"]["eval"]["seed"]
    # the work really ran in two actor processes, not in this one
    workers = remote["run"]["sessions"][0]["workers"]
    assert workers == 2 and remote["run"]["sessions"][0]["executor"]["kind"] == "ray"
    pids = {r["meta"]["eval"].get("worker_pid") for r in ray_episodes.values()}
    assert len(pids) == 2 and os.getpid() not in pids


def test_an_actor_killed_mid_run_is_replaced_and_nothing_is_lost_or_doubled(tmp_path):
    suite = he_suite(tmp_path, 24)
    out = tmp_path / "run"
    executor = RayExecutor(2)
    killed: list[int] = []

    def kill_one_actor() -> None:
        deadline = time.monotonic() + 120
        log = out / "episodes.jsonl"
        while time.monotonic() < deadline:
            done = log.read_bytes().count(b"\n") if log.exists() else 0
            if done >= 3 and len(executor.actor_pids) == 2:
                pid = executor.actor_pids[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_actor)
    killer.start()
    summary = run_eval(suite, "scripted:oracle", out, executor=executor, progress=False)
    killer.join()
    assert killed, "the actor was not killed"
    assert executor.replaced == 1
    lines = (out / "episodes.jsonl").read_text().splitlines()
    keys = [json.loads(line)["meta"]["eval"]["key"] for line in lines]
    assert len(keys) == len(set(keys)) == 24
    assert set(keys) == {e.key for e in expand_suite(load_suite(suite)).episodes}
    assert summary["complete"] and summary["results"]["success_rate"] == 1.0
    assert summary["run"]["sessions"][0]["workers"] == 3  # two actors, then the replacement
