"""`selfgym run`: YAML errors are one clear message (exit 2); a run killed half-way and resumed ends exactly like an
uninterrupted one. Runs use a tiny local model on the real Math-v0 env (math-verify, reasoning-gym)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from experiment_runs import SELFGYM, episodes_of, experiment, killed_resumed_and_straight
from selfgym.experiments.config import ConfigError, load_experiment
from tiny_models import build_tiny_chat_model

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_chat_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.mark.parametrize("text, message", [
    ("name: x\nagent:\n  temprature: 0.5\n", ":3: agent.temprature: unknown key (did you mean 'temperature'?)"),
    ("name: x\nbudget:\n  episodes: lots\n", ":3: budget.episodes: Input should be a valid integer"),
    ("name: x\nmethod: {name: grpoo}\n", ":2: method.name: 'grpoo' is not one of eval-only, reflexion, self-training, re-rest, grpo, tree-search, score, self-debugging (did you mean 'grpo'?)"),
    ("name: x\nmethod: {name: grpo, trials: 3}\n", ":2: method.trials: unknown key; expected one of: bf16, clip_epsilon, clip_epsilon_high, epochs_per_step"),
    ("name: x\nexecutor: {name: ray, workerz: 2}\n", ":2: executor.workerz: unknown key (did you mean 'workers'?)"),
    ("name: x\nexecutor: {name: local, address: 'h:6379'}\n", ":2: executor: Value error, address only applies to the ray"),
    ("name: x\nenv: [1, 2\n", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
])
def test_bad_yaml_is_one_clear_error_with_exit_code_2(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_experiment(path)
    result = subprocess.run([*SELFGYM, "run", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and "bad.yaml" in result.stderr


def test_missing_file_and_bad_resume_dir(tmp_path):
    result = subprocess.run([*SELFGYM, "run", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert result.returncode == 2 and "no such experiment file" in result.stderr
    result = subprocess.run([*SELFGYM, "run", "--resume", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "not a run folder" in result.stderr


def test_shipped_experiments_are_valid():
    names = {load_experiment(path).name for path in EXPERIMENTS.glob("*.yaml")}
    assert "quickstart" in names and len(names) >= 5
    assert load_experiment(EXPERIMENTS / "cluster.yaml").executor.address == "auto"


def test_an_executor_named_alone_is_one_with_defaults(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nexecutor: ray\n")
    executor = load_experiment(path).executor
    assert (executor.name, executor.address, executor.workers, executor.resources) == ("ray", None, 2, None)


@pytest.mark.docker
def test_killed_run_resumes_to_the_same_episodes(tmp_path, tiny_model):
    path = experiment(tmp_path, tiny_model)
    run_dir = tmp_path / "runs" / "tiny"
    killed_at, after_resume, uninterrupted = killed_resumed_and_straight(path, run_dir, tmp_path / "straight",
                                                                         kill_at=6)
    assert 6 <= killed_at < 12
    assert [e["episode"] for e in after_resume] == list(range(12)) == [e["episode"] for e in uninterrupted]
    assert [e["task"]["id"] for e in after_resume] == [e["task"]["id"] for e in uninterrupted]
    state = json.loads((run_dir / "state.json").read_text())
    assert state["episodes"] == 12 and state["method"]["buffer"] == []  # the last round's buffer was trained on or dropped
    evals = [json.loads(line) for line in (run_dir / "evals.jsonl").read_text().splitlines()]
    assert [e["episodes"] for e in evals] == [0, 6, 12]
    assert (run_dir / "plots" / "run.png").stat().st_size > 10_000

    env = {**os.environ, "PYTHONHASHSEED": "0"}
    again = subprocess.run([*SELFGYM, "run", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "resuming" in again.stderr  # a finished run is reported, not redone
    assert [e["episode"] for e in episodes_of(run_dir)] == list(range(12))
    changed = experiment(tmp_path, tiny_model, seed=1)
    clash = subprocess.run([*SELFGYM, "run", str(changed)], env=env, capture_output=True, text=True, timeout=120)
    assert clash.returncode == 2 and "holds a run of another config" in clash.stderr


@pytest.mark.docker
def test_evaluations_when_batches_do_not_divide_every(tmp_path, tiny_model):
    from selfgym.experiments.runner import ExperimentRunner

    # batches of 2 episodes, an evaluation every 3: after the batches that cross 3 and 6, and at the end
    path = experiment(tmp_path, tiny_model, method={"name": "eval-only"}, budget={"episodes": 8},
                      eval={"tasks": 2, "every": 3})
    out = io.StringIO()
    report = ExperimentRunner(load_experiment(path), console=Console(file=out, width=200)).run()
    assert [e["episodes"] for e in report["evals"]] == [0, 4, 6, 8]
    # not a terminal (a CI log, `| tee`): progress comes as lines, as it goes, not as one bar drawn at the end
    lines = out.getvalue().splitlines()
    training = [line for line in lines if line.startswith("tiny (eval-only): ")]
    assert [line.split(",")[0] for line in training] == [f"tiny (eval-only): {n}/8" for n in (0, 2, 4, 6, 8)]
    assert all(" success " in line for line in training[1:])
    assert sum(line.startswith("evaluating (") and ": 2/2" in line for line in lines) == 4


@pytest.mark.docker
def test_grpo_experiment_runs_and_resumes(tmp_path, tiny_model):
    from selfgym.experiments.runner import ExperimentRunner

    path = experiment(tmp_path, tiny_model, name="grpo", budget={"episodes": 8}, eval={"tasks": 2, "every": 4},
                      method={"name": "grpo", "group_size": 2, "tasks_per_step": 2, "learning_rate": 1e-4})
    config = load_experiment(path)
    report = ExperimentRunner(config).run()
    run_dir = config.run_dir
    assert report["episodes"] == 8 and [e["episodes"] for e in report["evals"]] == [0, 4, 8]
    steps = [json.loads(line) for line in (run_dir / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 2 and all("kl" in step for step in steps)
    episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert [e["episode"] for e in episodes] == list(range(8))
    assert all(e["meta"]["source"] == "grpo" for e in episodes)
    assert [e["meta"]["step"] for e in episodes] == [1] * 4 + [2] * 4
    batches = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [b["episodes"] for b in batches] == [4, 8] and all("families" in b for b in batches)
    assert all(b["kl"] is None or isinstance(b["kl"], float) for b in batches)  # no "nan" strings
    assert ExperimentRunner.resume(run_dir).run()["episodes"] == 8  # finished: resuming only reports


def run_experiment(path: Path):
    from selfgym.experiments import ExperimentRunner, load_experiment
    from rich.console import Console

    config = load_experiment(path)
    return ExperimentRunner(config, console=Console(quiet=True)).run(), config.run_dir


@pytest.mark.docker
def test_limits_in_the_env_kwargs_reach_the_sandboxes(tmp_path, monkeypatch):
    # before: the runner built its pool with default limits and the env's own `limits` were dropped. The episode
    # cannot see its cgroup (hidden by design), so the limits are read where Docker gets them: the host config of
    # every container the run creates
    from selfgym.sandbox import sandbox as sandbox_module

    created = []

    def recording_spec(*args, **kwargs):
        spec = container_spec(*args, **kwargs)
        created.append(spec["host_config"])
        return spec

    container_spec = sandbox_module.container_spec
    monkeypatch.setattr(sandbox_module, "container_spec", recording_spec)
    path = experiment(tmp_path, Path("unused"), env={
        "id": "selfgym/Shell-v0", "parallel": 1,
        "kwargs": {"max_steps": 1, "limits": {"pids": 77, "memory_mb": 200, "disk_mb": 16}}},
        agent={"backend": "scripted", "replies": ["echo hi"]},
        method={"name": "eval-only"}, budget={"episodes": 1}, eval={"tasks": 1})
    _, run_dir = run_experiment(path)
    assert episodes_of(run_dir)[0]["steps"][0]["observation"].startswith("hi")
    assert created and all(config["PidsLimit"] == 77 and config["Memory"] == 200 * 1024 * 1024
                           and "size=16m" in config["Tmpfs"]["/work"] for config in created), created


@pytest.mark.docker
def test_a_web_experiment_gets_the_web_sandbox(tmp_path):
    # before: `selfgym run` handed Web-v0 envs a pool of the python image, where neither Chromium nor the sites are
    path = experiment(tmp_path, Path("unused"), env={"id": "selfgym/Web-v0", "parallel": 1,
                                                      "kwargs": {"max_steps": 1}},
                      agent={"backend": "scripted", "replies": ['answer("done")']},
                      method={"name": "eval-only"}, budget={"episodes": 1}, eval={"tasks": 1})
    report, run_dir = run_experiment(path)
    episode = episodes_of(run_dir)[0]
    assert episode["error"] is None and "Answer recorded" in episode["steps"][0]["observation"]
    assert report["episodes"] == 1


def test_held_out_settings_are_reported_paired_and_never_trained_on(tmp_path):
    # the scripted oracle plays Math-v0's reference (boxed gold answers): it learns its tasks as episodes start
    path = experiment(tmp_path, Path("unused"), env={
        "id": "selfgym/Math-v0", "parallel": 4, "kwargs": {"max_steps": 1, "tools": False},
        "families": [{"name": "basic_arithmetic", "levels": 1}]},
        agent={"backend": "scripted", "model": "oracle"}, method={"name": "eval-only"}, budget={"episodes": 8},
        eval={"tasks": 6, "name": "strict", "env_kwargs": {"extraction": "strict"},
              "also": {"flexible": {"extraction": "flexible"}}})
    report, run_dir = run_experiment(path)
    evals = [json.loads(line) for line in (run_dir / "evals.jsonl").read_text().splitlines()]
    assert [row["episodes"] for row in evals] == [0, 8]
    assert evals[0]["solved"] == [True] * 6 and evals[-1]["also"]["flexible"]["solved"] == [True] * 6
    assert set(report["paired"]) == {"strict", "flexible"}
    assert report["paired"]["strict"] == {"before": 1.0, "after": 1.0, "gains": 0, "losses": 0, "p_value": 1.0}
    held_out = {json.loads(line)["id"] for line in (run_dir / "eval_tasks.jsonl").read_text().splitlines()}
    assert not held_out & {episode["task"]["id"] for episode in episodes_of(run_dir)}


def test_training_never_draws_a_held_out_task():
    from selfgym.curricula import FixedFamily, UniformCurriculum
    from selfgym.curricula.base import Excluding
    from selfgym.envs import Task

    tasks = [Task(f"t/{i}", "t", f"task {i}") for i in range(5)]
    chooser = Excluding(UniformCurriculum([FixedFamily("t", tasks)], seed=0), ["t/0", "t/1", "t/2"])
    assert {chooser.next_task().id for _ in range(200)} == {"t/3", "t/4"}
    with pytest.raises(ValueError, match="too small"):
        Excluding(UniformCurriculum([FixedFamily("t", tasks)], seed=0), [t.id for t in tasks]).next_task()


def test_canonical_replies_are_verified_again():
    import gymnasium as gym

    from selfgym.agents import ScriptedPolicy, rollout_batch
    from selfgym.agents.self_training import canonicalize
    from selfgym.envs import Task, TaskList

    tasks = TaskList([Task("m/1", "m", "What is 3 + 4?", data={"answer": "7"}),
                      Task("m/2", "m", "What is 2 + 2?", data={"answer": "4"})], "m")
    envs = [gym.make("selfgym/Math-v0", tasks=tasks, max_steps=1, tools=False, extraction="flexible").unwrapped
            for _ in range(2)]
    played = rollout_batch(envs, ScriptedPolicy(["It is 7, I think.", "The sum is 4"]), list(tasks), seeds=[0, 1])
    assert all(t.success for t in played)
    canonical = canonicalize(envs, played)
    assert [t.steps[0].action for t in canonical] == ["\\boxed{7}", "\\boxed{4}"]
    assert all(t.success and t.meta["source"] == "canonical" for t in canonical)
