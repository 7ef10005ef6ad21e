"""Self-Debugging: the prompts of each feedback mode (a stand-in env, scripted policies), then the real Code-v0
in its sandbox (a wrong attempt fixed after the env's feedback; hidden tests never reach a prompt), and the YAML
method run, killed and resumed."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

from selfgym.agents.policy import ScriptedPolicy
from selfgym.agents.self_debugging import (EXPLAIN_REQUESTS, FIX_REQUEST, SIMPLE_FEEDBACK, SelfDebugging,
                                           SelfDebuggingConfig)
from selfgym.envs.code.sources import read_code_jsonl
from selfgym.envs.task import Task

FEEDBACK = "Tests failed:\nassert f(1) == 2  # output: 3"


class FeedbackEnv(gym.Env):
    """A stand-in for Code-v0: an attempt holding ``FIXED`` solves the task, one without a code fence is not
    run (``info["error"] == "no_code"``), any other fails with ``FEEDBACK``."""

    def __init__(self, max_steps: int = 3) -> None:
        self.max_steps = max_steps
        self.task: Task | None = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.task, self.steps = options["task"], 0
        return f"TASK {self.task.id}", {}

    def step(self, action):
        self.steps += 1
        if "```" not in action:
            return "Your reply has no ```python block.", 0.0, False, self.steps >= self.max_steps, {"error": "no_code"}
        solved = "FIXED" in action
        observation = "All hidden tests passed." if solved else FEEDBACK
        return observation, float(solved), solved, self.steps >= self.max_steps, {"error": None if solved else
                                                                                 "tests_failed"}


def debug(mode: str, script, *, tasks: int = 1, turns: int = 3):
    policy = ScriptedPolicy(script)
    envs = [FeedbackEnv(turns) for _ in range(tasks)]
    config = SelfDebuggingConfig(feedback=mode, turns=turns, system_prompt=None)
    return SelfDebugging(policy, config).run(envs, [Task(f"t/{i}", "t", "task") for i in range(tasks)]), policy


def test_unit_test_feedback_is_the_envs_and_simple_feedback_withholds_it():
    (played,), policy = debug("unit-test", ["```python\nwrong\n```", "```python\nFIXED\n```"])
    assert policy.calls[1][-1] == {"role": "user", "content": FEEDBACK}
    assert played.meta["solved_attempt"] == 2 and played.meta["explanations"] == []
    assert SelfDebugging.solved_by_attempt(played, 3) == [False, True, True]

    (played,), policy = debug("simple", ["```python\nwrong\n```", "no code", "```python\nFIXED\n```"])
    assert policy.calls[1][-1]["content"] == SIMPLE_FEEDBACK and "output" not in str(policy.calls[1])
    # a reply with no code still hears what was expected: that is about the form, in every mode
    assert policy.calls[2][-1]["content"] == "Your reply has no ```python block."
    assert played.steps[0].observation == FEEDBACK  # the env's answer is kept; only the prompt is simpler
    assert played.meta == {"policy": "scripted", "method": "self-debugging", "feedback": "simple", "turns": 3,
                           "explanations": [], "solved_attempt": 3}


@pytest.mark.parametrize("mode", ["explanation", "trace"])
def test_the_explanation_is_the_models_own_turn_before_the_fix(mode):
    script = ["```python\nwrong\n```", "line 1 adds 2, so f(1) is 3", "```python\nFIXED\n```"]
    (played,), policy = debug(mode, script)
    assert policy.calls[1][-1]["content"] == f"{FEEDBACK}\n\n{EXPLAIN_REQUESTS[mode]}"
    assert policy.calls[2][-2:] == [{"role": "assistant", "content": "line 1 adds 2, so f(1) is 3"},
                                    {"role": "user", "content": FIX_REQUEST}]
    assert [step.action for step in played.steps] == [script[0], script[2]]  # the explanation is no env step
    assert played.meta["explanations"] == [{"attempt": 2, "text": "line 1 adds 2, so f(1) is 3"}]
    assert played.success and played.meta["solved_attempt"] == 2


def test_nothing_to_explain_after_a_reply_with_no_code():
    (played,), policy = debug("explanation", ["prose only", "```python\nFIXED\n```"])
    assert len(policy.calls) == 2 and played.meta["explanations"] == [] and played.success


def test_episodes_play_in_lockstep_with_batched_explanations():
    class Counting(ScriptedPolicy):
        batches: list[int] = []

        def _complete(self, conversations, sampling):
            self.batches.append(len(conversations))
            return super()._complete(conversations, sampling)

    def reply(messages):  # episode t/0 is solved at once; t/1 and t/2 need an explanation and a fix
        if messages[-1]["content"].endswith(EXPLAIN_REQUESTS["explanation"]):
            return "explained"
        solved_at_once = messages[0]["content"] == "TASK t/0"
        return "```python\nFIXED\n```" if solved_at_once or messages[-1]["content"] == FIX_REQUEST else "```python\n```"

    policy = Counting(reply)
    played = SelfDebugging(policy, SelfDebuggingConfig(feedback="explanation", turns=2, system_prompt=None)).run(
        [FeedbackEnv(2) for _ in range(3)], [Task(f"t/{i}", "t", "task") for i in range(3)])
    assert policy.batches == [3, 2, 2]  # first attempts, then both explanations, then both fixes
    assert [t.meta["solved_attempt"] for t in played] == [1, 2, 2]
    assert list(SelfDebugging.success_by_attempt(played, 2)) == [1 / 3, 1.0]


def test_bad_settings_are_clear_errors(tmp_path):
    from selfgym.experiments.config import ConfigError, load_experiment

    with pytest.raises(ValueError, match="feedback must be one of simple, unit-test, explanation, trace"):
        SelfDebuggingConfig(feedback="rubber-duck")
    with pytest.raises(ValueError, match="allows 2 attempt.*turns=3.*max_steps=3"):
        SelfDebugging(ScriptedPolicy(["x"]), SelfDebuggingConfig(turns=3)).run([FeedbackEnv(2)], [Task("t", "t", "")])
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nenv: {id: selfgym/Code-v0, kwargs: {max_steps: 2}}\n"
                    "method: {name: self-debugging, feedback: trace, turns: 3}\n")
    with pytest.raises(ConfigError, match=r":3: method.turns: is 3, but the env allows 2 attempt\(s\)"):
        load_experiment(path)
    path.write_text("name: x\nenv: {id: selfgym/Code-v0}\nmethod: {name: self-debugging, feedback: rubber}\n")
    with pytest.raises(ConfigError, match=":3: method.feedback: Input should be .simple., .unit-test., .explanation. or .trace."):
        load_experiment(path)
    path.write_text("name: x\nenv: {id: selfgym/Code-v0}\nmethod: {name: self-debugging, feedback: explanation}\n")
    method = load_experiment(path).method
    assert (method.feedback, method.turns, method.explanation_tokens) == ("explanation", 3, 256)


# --- the real Code-v0 ------------------------------------------------------------------------------------------

MARKER = "HIDDEN-7c1e"  # only in a hidden test: it must never reach a prompt
WRONG = "```python\ndef add_one(x):\n    return x + 2\n```"
OVERFIT = "```python\ndef add_one(x):\n    return 2 if x == 1 else 0\n```"  # passes the visible test only
RIGHT = "```python\ndef add_one(x):\n    return x + 1\n```"


def task_file(tmp_path: Path, count: int = 1) -> Path:
    """MBPP-format tasks whose visible test is ``add_one(1) == 2``; the hidden ones add a test with ``MARKER``."""
    path = tmp_path / "add_one.jsonl"
    records = [{"task_id": i, "text": "Write a function add_one that adds one to a number.",
                "test_list": ["assert add_one(1) == 2"],
                "challenge_test_list": [f"assert add_one({40 + i}) == {41 + i}, '{MARKER}'"]} for i in range(count)]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def fixer(messages):
    """A model that debugs: its first attempt adds two; after feedback showing that output it overfits the visible
    test; after the hint that hidden tests failed, it adds one. Asked to explain, it explains."""
    last = messages[-1]["content"]
    if last.endswith(EXPLAIN_REQUESTS["explanation"]):
        return "Line 2 returns x + 2: for add_one(1) that is 3, not 2."
    if "assert add_one(1) == 2  # output: 3" in last or "# output: 3" in str(messages[-3:]):
        return OVERFIT
    if "hidden tests failed" in last or "hidden tests failed" in str(messages[-3:]):
        return RIGHT
    return WRONG


@pytest.mark.docker
def test_code_v0_a_wrong_attempt_is_fixed_from_feedback_and_hidden_tests_stay_hidden(pool, tmp_path):
    tasks = read_code_jsonl(task_file(tmp_path), family="add_one")
    envs = [gym.make("selfgym/Code-v0", pool=pool, tasks=tasks, max_steps=3) for _ in range(2)]
    try:
        unit_test = ScriptedPolicy(lambda m: RIGHT if "# output: 3" in m[-1]["content"] else WRONG)
        fixed, = SelfDebugging(unit_test, SelfDebuggingConfig(feedback="unit-test", turns=2)).run(
            envs[:1], [tasks.get("add_one/0")])
        explaining = ScriptedPolicy(fixer)
        debugged, = SelfDebugging(explaining, SelfDebuggingConfig(feedback="explanation", turns=3)).run(
            envs, [tasks.get("add_one/0")])
    finally:
        for env in envs:
            env.close()
    assert [step.reward for step in fixed.steps] == [0.0, 1.0] and fixed.meta["solved_attempt"] == 2
    assert "assert add_one(1) == 2  # output: 3" in fixed.steps[0].observation

    assert [step.action for step in debugged.steps] == [WRONG, OVERFIT, RIGHT]
    assert [step.reward for step in debugged.steps] == [0.0, 0.0, 1.0] and debugged.success
    assert [e["attempt"] for e in debugged.meta["explanations"]] == [2, 3]
    assert "1 of 2 hidden tests passed" in debugged.steps[1].observation  # the hidden test failed: counted only
    prompts = json.dumps(unit_test.calls + explaining.calls) + json.dumps(debugged.messages + fixed.messages)
    assert MARKER not in prompts and "add_one(40)" not in prompts


@pytest.mark.docker
def test_the_yaml_method_runs_and_a_killed_run_resumes_to_the_same_episodes(tmp_path, monkeypatch):
    from rich.console import Console

    from selfgym.experiments import ExperimentRunner, load_experiment
    from selfgym.experiments import runner as runner_module
    from selfgym.experiments.methods import SelfDebuggingMethod

    monkeypatch.setattr(runner_module, "build_policy", lambda config, checkpoint=None: ScriptedPolicy(fixer))
    path = tmp_path / "debug.yaml"
    config = {"name": "debug", "seed": 0, "output_dir": str(tmp_path / "{name}"),
              "env": {"id": "selfgym/Code-v0", "parallel": 2,
                      "kwargs": {"max_steps": 3, "tasks": str(task_file(tmp_path, 6))}},
              "agent": {"backend": "scripted", "model": "oracle"},
              "method": {"name": "self-debugging", "feedback": "explanation", "turns": 3},
              "budget": {"episodes": 4}, "eval": {"tasks": 1}}

    def run(name: str, kill_at_step: int | None = None) -> Path:
        path.write_text(json.dumps({**config, "name": name}))
        loaded = load_experiment(path)
        if kill_at_step is not None:  # the step after the commit of episodes 0-1 dies, as a SIGKILL would
            step, calls = SelfDebuggingMethod.step, []

            def dying(self, first):
                calls.append(first)
                if len(calls) == kill_at_step:
                    step(self, first)  # played, never logged or committed
                    raise KeyboardInterrupt
                return step(self, first)

            with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
                patch.setattr(SelfDebuggingMethod, "step", dying)
                ExperimentRunner(loaded, console=Console(quiet=True)).run()
            assert json.loads((loaded.run_dir / "state.json").read_text())["episodes"] == 2
            ExperimentRunner.resume(loaded.run_dir, console=Console(quiet=True)).run()
        else:
            ExperimentRunner(loaded, console=Console(quiet=True)).run()
        return loaded.run_dir

    resumed, straight = run("killed", kill_at_step=2), run("straight")
    episodes = [json.loads(line) for line in (resumed / "episodes.jsonl").read_text().splitlines()]
    again = [json.loads(line) for line in (straight / "episodes.jsonl").read_text().splitlines()]
    assert [e["episode"] for e in episodes] == [0, 1, 2, 3]
    assert [(e["task"]["id"], e["seed"]) for e in episodes] == [(e["task"]["id"], e["seed"]) for e in again]
    assert all(e["success"] and e["meta"]["solved_attempt"] == 3 and e["meta"]["feedback"] == "explanation"
               and len(e["meta"]["explanations"]) == 2 for e in episodes)
    metrics = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [m["success_by_attempt"] for m in metrics] == [[0.0, 0.0, 1.0]] * 2
