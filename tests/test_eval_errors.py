"""How ``selfgym eval`` ends episodes it cannot play to the end (issue 20, faults 6 and 8).

* An env that raises :class:`~selfgym.sandbox.InfrastructureError` (its sandbox lost to something outside the
  agent, more often than the env replays an attempt) makes that episode an *error*: logged with status
  "error" and the reason, kept out of the success rate and pass@k, counted apart, and played again when the
  run resumes. A small env registered here raises it on demand; the chaos test with real ``docker kill``s is
  elsewhere.
* A conversation longer than the model's context is that episode's failure (status "stopped", with the
  reason), not the run's: with a local model (``hf:``) and through an OpenAI-compatible server (``openai:``).
* ``--limit N`` plays the first N tasks of each task set.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gymnasium as gym
import pytest
from click.testing import CliRunner

from selfgym import Task
from selfgym.agents import create_app
from selfgym.agents.hf import HFPolicy
from selfgym.agents.serve import serve_in_thread
from selfgym.cli import main
from selfgym.envs import TaskList
from selfgym.envs.math_env import MathEnv
from selfgym.eval import load_suite, run_eval
from selfgym.eval.leaderboard import build_leaderboard, to_markdown
from selfgym.eval.summary import outcomes
from selfgym.sandbox import InfrastructureError

pytestmark = pytest.mark.docker  # the eval's workers start a sandbox pool
FLAKY_ID = "selfgym-test/Flaky-v0"
LOST: dict[str, str] = {}  # task id -> "reset" or "step": where FlakyEnv loses that task's sandbox


class FlakyEnv(MathEnv):
    """Math-v0 over four sums, losing the episodes of the tasks in ``LOST`` to an "infrastructure" failure."""

    def __init__(self, **kwargs):
        tasks = [Task(f"q{i}", "sums", f"What is {i} + {i}?", data={"answer": str(2 * i)}) for i in range(4)]
        super().__init__(TaskList(tasks, "sums"), tools=False, **kwargs)

    def _begin(self, task):
        if LOST.get(task.id) == "reset":
            raise InfrastructureError(f"the sandbox of {task.id} was killed 3 times while setting up")
        return super()._begin(task)

    def _act(self, action):
        if LOST.get(self.task.id) == "step":
            raise InfrastructureError(f"the sandbox of {self.task.id} was killed 3 times during an attempt")
        return super()._act(action)


if FLAKY_ID not in gym.registry:
    gym.register(FLAKY_ID, entry_point=FlakyEnv, disable_env_checker=True)


@pytest.fixture(autouse=True)
def nothing_lost():
    LOST.clear()
    yield
    LOST.clear()


def flaky_suite(folder, attempts: int = 2):
    path = folder / "flaky.yaml"
    path.write_text(f"name: flaky\nversion: 1\nattempts: {attempts}\nk: {[1, 2][:attempts]}\n"
                    f"task_sets:\n  - {{name: sums, env: {FLAKY_ID}}}\n")
    return path


def read_log(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_an_infrastructure_error_is_an_error_apart_from_the_score_and_is_replayed_on_resume(tmp_path, batch_size):
    suite = flaky_suite(tmp_path)
    run_dir = tmp_path / "run"
    LOST.update(q1="reset", q2="step")
    summary = run_eval(suite, "scripted:oracle", run_dir, workers=2, batch_size=batch_size, progress=False)

    results = summary["results"]
    assert summary["complete"]  # every episode has a record
    assert (results["episodes"], results["successes"], results["errors"]) == (4, 4, 4)
    assert results["success_rate"] == 1.0  # the oracle's score is not dragged down by what it did not cause
    assert results["pass_at_k"]["2"] == {"estimate": 1.0, "ci95": [1.0, 1.0], "tasks": 2}
    assert results["families"]["sums"]["errors"] == 4
    assert sorted(error["key"] for error in summary["errors"]) == ["sums/q1#0", "sums/q1#1", "sums/q2#0",
                                                                   "sums/q2#1"]
    assert all("killed 3 times" in error["reason"] for error in summary["errors"])
    records = read_log(run_dir)
    errors = [r for r in records if r["status"] == "error"]
    assert len(errors) == 4 and {r["task"]["id"] for r in errors} == {"q1", "q2"}
    assert all(not r["success"] and "killed 3 times" in r["reason"] for r in errors)
    assert {r["status"] for r in records if r not in errors} == {"done"}

    board = build_leaderboard([summary])  # a run with errors is ranked, its errors shown
    assert board["rows"][0]["errors"] == 4
    assert "| 4 |" in to_markdown(board) and "errors: episodes lost to infrastructure" in to_markdown(board)

    LOST.clear()  # the infrastructure recovered: resuming plays the lost episodes again, and only those
    again = run_eval(suite, "scripted:oracle", run_dir, workers=2, batch_size=batch_size, progress=False)
    assert (again["results"]["episodes"], again["results"]["errors"], again["errors"]) == (8, 0, [])
    assert again["results"]["success_rate"] == 1.0
    replayed = read_log(run_dir)[len(records):]
    assert sorted(r["meta"]["eval"]["key"] for r in replayed) == sorted(r["meta"]["eval"]["key"] for r in errors)
    assert {r["status"] for r in replayed} == {"done"}
    assert len(again["run"]["sessions"]) == 2


def test_an_error_in_one_episode_of_a_lockstep_chunk_lets_the_others_finish(tmp_path):
    suite = flaky_suite(tmp_path, attempts=1)
    LOST.update(q0="step")
    summary = run_eval(suite, "scripted:oracle", tmp_path / "run", workers=1, batch_size=4, progress=False)
    statuses = {r["task"]["id"]: r["status"] for r in read_log(tmp_path / "run")}
    assert statuses == {"q0": "error", "q1": "done", "q2": "done", "q3": "done"}
    assert (summary["results"]["successes"], summary["results"]["errors"]) == (3, 1)


def test_outcomes_leave_errors_out_of_success_and_pass_at_k():
    def record(task_id, attempt, success, status="done"):
        return {"meta": {"eval": {"task_set": "s", "key": f"s/{task_id}#{attempt}"}}, "task": {"id": task_id},
                "success": success, "final_reward": float(success), "steps": [{}], "status": status}

    records = [record("a", 0, True), record("a", 1, False), record("b", 0, True),
               record("b", 1, False, status="error")]
    result = outcomes([1, 2], records)
    assert (result["episodes"], result["successes"], result["errors"]) == (3, 2, 1)
    assert result["success_rate"] == pytest.approx(2 / 3)
    assert result["pass_at_k"]["1"]["tasks"] == 2  # b has one attempt left: enough for pass@1
    assert result["pass_at_k"]["2"]["tasks"] == 1 and result["pass_at_k"]["2"]["estimate"] == 1.0  # a only


# --- prompts longer than the model's context ---------------------------------------------------------------------

def long_question_suite(folder):
    questions = [("Sam has 2 apples and buys 3 more. How many now?", 5),
                 ("Count: " + "one two three four five six seven eight nine ten " * 120, 1),
                 ("Ann has 1 pear. How many pears has Ann?", 1)]
    (folder / "q.jsonl").write_text("".join(json.dumps({"question": q, "answer": f"#### {a}"}) + "\n"
                                            for q, a in questions))
    path = folder / "long.yaml"
    path.write_text("name: long\nversion: 1\nsampling: {max_new_tokens: 4}\ntask_sets:\n"
                    "  - {name: gsm, env: selfgym/Math-v0, file: q.jsonl, env_kwargs: {tools: false, max_steps: 1}}\n")
    return path


def check_the_long_episode_failed_alone(run_dir):
    records = read_log(run_dir)
    assert len(records) == 3
    long = [r for r in records if r["task"]["prompt"].startswith("Count:")]
    assert len(long) == 1 and long[0]["status"] == "stopped" and not long[0]["success"]
    assert "context" in long[0]["reason"] and "512" in long[0]["reason"]
    assert {r["status"] for r in records if r is not long[0]} == {"done"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] and summary["results"]["episodes"] == 3 and summary["results"]["errors"] == 0


@pytest.mark.parametrize("batch_size", [1, 3])
def test_a_prompt_too_long_for_a_local_model_fails_that_episode_only(tmp_path, tiny_path, batch_size,
                                                                      torch_one_thread):
    suite = long_question_suite(tmp_path)
    result = CliRunner().invoke(main, ["eval", str(suite), "--agent", f"hf:{tiny_path}", "--out",
                                       str(tmp_path / "run"), "--workers", "1", "--batch-size", str(batch_size),
                                       "--device", "cpu", "--no-progress"])
    assert result.exit_code == 0, result.output
    check_the_long_episode_failed_alone(tmp_path / "run")


def test_a_prompt_too_long_for_a_served_model_fails_that_episode_only(tmp_path, tiny_path, torch_one_thread):
    suite = long_question_suite(tmp_path)
    with serve_in_thread(create_app(HFPolicy(tiny_path, device="cpu"), "tiny")) as url:
        result = CliRunner().invoke(main, ["eval", str(suite), "--agent", f"openai:tiny@{url}", "--out",
                                           str(tmp_path / "run"), "--workers", "2", "--batch-size", "2",
                                           "--no-progress"])
    assert result.exit_code == 0, result.output
    check_the_long_episode_failed_alone(tmp_path / "run")


# --- --limit ----------------------------------------------------------------------------------------------------

def test_limit_plays_the_first_tasks_of_each_task_set(tmp_path, monkeypatch):
    suite = flaky_suite(tmp_path, attempts=1)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["eval", str(suite), "--agent", "scripted:oracle", "--limit", "2",
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs/eval/flaky-v1/scripted_oracle-limit2"
    assert sorted(r["task"]["id"] for r in read_log(run_dir)) == ["q0", "q1"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["suite"]["task_sets"] == [{"name": "sums", "tasks": 2}]
    full = run_eval(load_suite(suite), "scripted:oracle", tmp_path / "full", progress=False)
    assert full["suite"]["fingerprint"] != summary["suite"]["fingerprint"]  # never ranked with full runs
    bad = CliRunner().invoke(main, ["eval", str(suite), "--agent", "scripted:oracle", "--limit", "0"])
    assert bad.exit_code == 2 and "--limit" in bad.output
