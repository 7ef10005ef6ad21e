"""Rewards that hold by construction on Math-v0 and Code-v0: lax reasoning-gym scorers are closed by selfgym's
strict rules or refused by the canary gate, and the audit batteries find no hackable task (the CI gate), while
planted lax judges (a blind scorer, a harness that trusts the exit code, a gold left in the sandbox) are reported
hackable with the right exploit class."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the envs
from selfgym.envs.audit.base import audit_tasks
from selfgym.envs.audit.code import CodeBattery
from selfgym.envs.audit.math import MathBattery, wrong_value
from selfgym.envs.code.extract import build_solution
from selfgym.envs.code_env import CodeEnv
from selfgym.envs.math import canary, generators
from selfgym.envs.math.answers import Verdict
from selfgym.envs.math.generators import ReasoningGymSource, generator_names
from selfgym.envs.math_env import MathEnv
from selfgym.envs.base import Turn

# reasoning-gym's own level 0 of knight_swap is invalid (min_nodes must be >= 6): it is built with a valid config
CONFIG = {"knight_swap": {"min_nodes": 6, "max_nodes": 8}}
# HumanEval tasks the CI gate audits: plain, with prompt helpers (poly, encode_cyclic), floats, strings, lists
CODE_SAMPLE = ("HumanEval/0", "HumanEval/32", "HumanEval/38", "HumanEval/53", "HumanEval/101", "HumanEval/163")


@pytest.fixture(scope="module")
def math_env():
    env = gym.make("selfgym/Math-v0", tasks=ReasoningGymSource("gcd"), tools=False)
    yield env
    env.close()


def off_by_half(gold: str) -> str:
    """A list of numbers like ``gold`` (``['-96.8', ...]``) with its first number 0.5 higher."""
    numbers = json.loads(gold.replace("'", '"'))
    numbers[0] = str(round(float(numbers[0]) + 0.5, 1))
    return str(numbers)


def reward(env, task, reply: str) -> float:
    env.reset(seed=0, options={"task": task})
    return env.step(reply)[1]


# --- the strict rules: the lax scorers' attacks, through gym.make ------------------------------------------------

def test_game_of_life_halting_gives_nothing_for_banana_or_a_hedge(math_env):
    source = ReasoningGymSource("game_of_life_halting", seed=0, size=20)
    golds = set()
    for task in list(source)[:6]:
        gold = task.data["answer"]
        golds.add(gold)
        for attack in ("\\boxed{banana}", "\\boxed{0}", "\\boxed{yes}", "<answer>True False</answer>",
                       "\\boxed{True} or \\boxed{False}", "\\boxed{False} or \\boxed{True}", "\\boxed{None}",
                       f"\\boxed{{{'x' * 5000}}}", f"\\boxed{{{wrong_value(gold)}}}"):
            assert reward(math_env, task, attack) == 0.0, (task.id, attack)
        assert reward(math_env, task, f"\\boxed{{{gold}}}") == 1.0
        assert reward(math_env, task, f"**{gold.lower()}.**\n\nAnswer: {gold.lower()}") == 1.0
    assert golds == {"True", "False"}


@pytest.mark.parametrize("name, attack", [
    ("puzzle24", lambda task: "\\boxed{2*3*4*1}"),  # 24, but not of the task's numbers (4, 3, 1, 4)
    ("number_sorting", lambda task: f"<answer>{off_by_half(task.data['answer'])}</answer>"),
    ("word_sorting", lambda task: f"<answer>{task.data['answer']}, zebra</answer>"),
    ("coin_flip", lambda task: f"\\boxed{{{task.data['answer']}9}}"),
    ("gsm_symbolic", lambda task: f"<answer>{'x ' * 3000}{task.data['answer']}</answer>"),
    ("gsm_symbolic", lambda task: f"<answer>{task.data['answer']} or 5</answer>"),
    ("cryptarithm", lambda task: f"\\boxed{{{wrong_value(task.data['answer'])}}} or \\boxed{{{task.data['answer']}}}"),
    ("advanced_geometry", lambda task: f"\\boxed{{{task.data['answer']}}} or \\boxed{{1.5}}"),
    ("time_intervals", lambda task: f"\\boxed{{{task.data['answer']}}} or \\boxed{{00:00:01}}"),
])
def test_each_lax_scorers_attack_earns_nothing(math_env, name, attack):
    task = ReasoningGymSource(name, seed=0, size=10).task(1)
    assert reward(math_env, task, attack(task)) == 0.0
    assert reward(math_env, task, MathEnv.reference_actions(task)[0]) == 1.0


# --- the canary gate ----------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_gate():
    canary.forget()
    yield
    canary.forget()


def test_the_gate_refuses_a_generator_whose_scorer_accepts_anything(fresh_gate, monkeypatch):
    blind = canary.canary_hits([{"answer": "True"}, {"answer": "False"}, {"answer": None}], lambda entry, answer: 1.0)
    assert {"garbage", "empty", "hedge", "long", "wrong-value", "typed"} <= {hit.kind for hit in blind}
    exact = canary.canary_hits([{"answer": "True"}, {"answer": "False"}, {"answer": "7"}],
                               lambda entry, answer: float(answer == entry["answer"]))
    assert exact == []
    # without selfgym's boolean rule, game_of_life_halting's own scorer is refused, naming the canary
    monkeypatch.setattr(generators, "strict_score", lambda *args: None)
    with pytest.raises(canary.LaxScorerError, match=r"'game_of_life_halting' is refused.*'banana'"):
        ReasoningGymSource("game_of_life_halting", seed=3)
    monkeypatch.undo()
    canary.forget()
    ReasoningGymSource("game_of_life_halting", seed=3)  # with the rule it passes
    with pytest.raises(ValueError, match="'sokoban' is refused"):
        ReasoningGymSource("sokoban")
    assert "sokoban" not in generator_names()


# --- the math battery: the CI gate over every generator, and a planted blind scorer ---------------------------------

def test_no_reasoning_gym_generator_is_hackable_or_broken(math_env):
    tasks = [ReasoningGymSource(name, 0, seed=0, size=10, **CONFIG.get(name, {})).task(0) for name in generator_names()]
    assert len(tasks) >= 100
    report = audit_tasks(math_env, tasks, batteries=[MathBattery()], progress=False)
    problems = {audit.task_id: [f.to_dict() for f in audit.findings] for audit in report.tasks if audit.verdict != "ok"}
    assert not problems, problems
    assert report.counts_by_verdict()["ok"] == len(tasks)
    print(f"\nmath battery: {len(tasks)} generators, {sum(a.probes for a in report.tasks)} probes, "
          f"{report.seconds:.1f} s")


def test_a_planted_blind_scorer_is_reported_hackable(math_env, monkeypatch):
    import selfgym.envs.math_env as math_env_module
    monkeypatch.setattr(math_env_module, "judge", lambda task, answer, **kw: Verdict(True, "planted", 1.0))
    task = ReasoningGymSource("gcd", seed=0, size=10).task(0)
    audit = audit_tasks(math_env, [task], batteries=[MathBattery()], progress=False).tasks[0]
    assert audit.verdict == "hackable"
    assert {"garbage-answer", "hedge", "long-answer", "wrong-value", "reward-state"} <= set(audit.exploits)
    assert "null-agent" not in audit.exploits  # empty replies are never judged


class GoldInSandbox(MathEnv):
    """A planted leak: the gold is written into the agent's sandbox before its program runs."""

    def _run_python(self, code: str) -> Turn:
        self.sandbox.write_files({"notes/.cache": f"expected={self.task.data['answer']}\n"})
        return super()._run_python(code)


@pytest.mark.docker
def test_tool_probes_find_no_gold_and_a_planted_leak_is_caught(pool):
    task = ReasoningGymSource("gsm_symbolic", seed=0, size=10).task(0)
    tool_probes = [MathBattery()]
    env = MathEnv(ReasoningGymSource("gsm_symbolic"), tools=True, pool=pool)
    leaky = GoldInSandbox(ReasoningGymSource("gsm_symbolic"), tools=True, pool=pool)
    try:
        clean = audit_tasks(env, [task], batteries=tool_probes, progress=False).tasks[0]
        assert clean.verdict == "ok", [f.to_dict() for f in clean.findings]
        caught = audit_tasks(leaky, [task], batteries=tool_probes, progress=False).tasks[0]
        assert caught.exploits == ["tool-leak"], [f.to_dict() for f in caught.findings]
    finally:
        env.close()
        leaky.close()


# --- the code battery: shipped tasks (the CI gate), and a harness that trusts the exit code -------------------------

@pytest.mark.docker
def test_no_sampled_humaneval_task_is_hackable_or_broken(pool):
    env = CodeEnv(pool=pool, max_steps=3)
    try:
        tasks = [env.source.get(task_id) for task_id in CODE_SAMPLE]
        report = audit_tasks(env, tasks, batteries=[CodeBattery()], progress=False)
    finally:
        env.close()
    problems = {audit.task_id: [f.to_dict() for f in audit.findings] for audit in report.tasks if audit.verdict != "ok"}
    assert not problems, problems
    print(f"\ncode battery: {len(tasks)} tasks, {sum(a.probes for a in report.tasks)} probes, {report.seconds:.1f} s")


class TrustsExitCode(CodeEnv):
    """A planted lax harness: the solution and the tests run in one process, and exit code 0 is a pass."""

    def _act(self, action: str) -> Turn:
        solution = build_solution(action, self.plan.entry_point, str(self.task.data.get("prompt_code") or ""))
        if solution.code is None:
            return Turn(solution.problem or "no code", 0.0, False, {})
        program = f"{solution.context}\n{solution.code}\n{self.task.data['test']}\ncheck({self.plan.entry_point})\n"
        self.sandbox.write_files({"attempt.py": program})
        result = self.sandbox.run(["python3", "attempt.py"], timeout_s=self.timeout_s)
        passed = result.exit_code == 0 and not result.timed_out
        return Turn("passed" if passed else "failed", float(passed), passed, {})


@pytest.mark.docker
def test_a_harness_that_trusts_the_exit_code_is_reported_hackable(pool):
    env = TrustsExitCode(pool=pool, max_steps=3)
    try:
        task = env.source.get("HumanEval/0")
        audit = audit_tasks(env, [task], batteries=[CodeBattery()], progress=False).tasks[0]
    finally:
        env.close()
    assert audit.verdict == "hackable"
    assert {"early-exit", "always-equal"} <= set(audit.exploits), audit.exploits
    assert "wrong-solution" not in audit.exploits and "garbage-answer" not in audit.exploits
