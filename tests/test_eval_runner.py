"""Running suites for real (Docker sandboxes, real verifiers): summaries, resuming, a SIGKILL half-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from eval_suites import he_suite, mixed_suite

from selfgym.agents import read_jsonl
from selfgym.eval import EvalError, expand_suite, load_suite, run_eval, wilson_interval

pytestmark = pytest.mark.docker

def test_oracle_on_a_mixed_suite(tmp_path):
    suite = mixed_suite(tmp_path)
    summary = run_eval(suite, "scripted:oracle", tmp_path / "run", workers=2, progress=False)
    results = summary["results"]
    assert summary["complete"] and results["episodes"] == 12 and results["tasks"] == 6
    assert results["successes"] == 10
    assert results["success_ci95"] == pytest.approx(list(wilson_interval(10, 12)))
    mini = results["families"]["mini"]
    assert (mini["tasks"], mini["successes"]) == (3, 4)
    assert mini["pass_at_k"]["1"]["estimate"] == pytest.approx(2 / 3)
    assert mini["pass_at_k"]["2"]["estimate"] == pytest.approx(2 / 3)
    shell = results["families"]["shell"]
    assert shell["success_rate"] == 1.0 and shell["mean_turns"] > 1
    assert results["families"]["gsm"]["success_rate"] == 1.0
    run = summary["run"]
    assert {"selfgym", "python", "torch", "transformers", "gymnasium"} <= set(run["versions"])
    assert all(digest.startswith("sha256:") for digest in run["images"].values()) and run["images"]
    assert summary["suite"]["fingerprint"] == expand_suite(load_suite(suite)).fingerprint
    # the log is plain trajectories, with what the eval needs in meta
    trajectories = list(read_jsonl(tmp_path / "run" / "episodes.jsonl"))
    assert len(trajectories) == 12
    failed = [t for t in trajectories if not t.success]
    assert {t.task.id for t in failed} == {"mini/mul"} and failed[0].steps[-1].info["error"] == "tests_failed"
    assert {t.meta["eval"]["attempt"] for t in trajectories} == {0, 1}
    # running again finds everything done: no new session, the same results
    again = run_eval(suite, "scripted:oracle", tmp_path / "run", workers=2, progress=False)
    assert again["results"] == results and len(again["run"]["sessions"]) == 1
    # the folder belongs to that suite and agent
    with pytest.raises(EvalError, match="holds a run of mixed v1"):
        run_eval(suite, "scripted:empty", tmp_path / "run", progress=False)


def test_sigkill_half_way_then_resume_logs_each_episode_once(tmp_path):
    suite = he_suite(tmp_path, 40)
    out = tmp_path / "run"
    log = out / "episodes.jsonl"
    command = [sys.executable, "-m", "selfgym.cli", "eval", str(suite), "--agent", "scripted:oracle", "--out",
               str(out), "--workers", "2", "--no-progress"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    lines = 0
    while lines < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
        lines = log.read_bytes().count(b"\n") if log.exists() else 0
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    killed_at = log.read_bytes().count(b"\n")
    assert 4 <= killed_at < 40, f"the kill must land half-way, not after {killed_at} of 40 episodes"

    summary = run_eval(suite, "scripted:oracle", out, workers=2, progress=False)
    keys = [json.loads(line)["meta"]["eval"]["key"] for line in log.read_text().splitlines()]
    expected = {e.key for e in expand_suite(load_suite(suite)).episodes}
    assert len(keys) == len(set(keys)) == 40 and set(keys) == expected
    assert summary["complete"] and summary["results"]["success_rate"] == 1.0
    sessions = {json.loads(line)["meta"]["eval"]["session"] for line in log.read_text().splitlines()}
    assert len(sessions) == 2 and len(summary["run"]["sessions"]) == 2


def test_web_suite_and_oracle_on_real_pages(tmp_path):
    from selfgym.envs.web_env import WebEnv

    shipped = expand_suite(load_suite("web"))
    assert shipped.tasks_per_set == {"shop": 24, "forum": 21, "wiki": 21, "cross-site": 2, "miniwob": 24}
    signatures = {WebEnv.task_signature(e.task) for e in shipped.episodes}
    assert len(signatures) == len(shipped.episodes)  # the oracle can tell
    suite = tmp_path / "web.yaml"
    suite.write_text(load_suite("web").model_dump_json().replace('"limit":null', '"limit":1'))
    summary = run_eval(suite, "scripted:oracle", tmp_path / "run", workers=2, progress=False)
    results = summary["results"]
    assert results["episodes"] == 5 and results["success_rate"] == 1.0
    assert any(tag.startswith("selfgym/web:") for tag in summary["run"]["images"])
