"""Every shipped shell task (Harbor directories), exported and read back, played in the real sandbox: its reference
solution earns 1, each of its plausible wrong attempts and a bare ``submit`` earn 0. Episodes run in threads over
one shared pool."""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

import pytest

from selfgym.envs import Task
from selfgym.envs.harbor import harbor_spec_of, read_tasks, wrong_attempts
from selfgym.envs.shell import parse_submit, shipped_tasks
from selfgym.envs.shell.export import export_tasks
from selfgym.envs.shell_env import ShellEnv
from selfgym.sandbox import SandboxPool

SHIPPED = list(shipped_tasks())
FAMILIES = {"files", "text", "archives", "git", "processes", "data", "build", "permissions", "services"}
THREADS = 6


def test_the_shipped_tasks_are_many_varied_and_complete():
    assert len(SHIPPED) >= 120
    by_category = collections.Counter(task.data["category"] for task in SHIPPED)
    assert set(by_category) == FAMILIES, by_category
    assert all(count >= 6 for count in by_category.values()), by_category
    assert {task.difficulty for task in SHIPPED} == {0, 1, 2, 3}
    for task in SHIPPED:
        assert task.family == "shell" and task.id.startswith("shell/")
        spec = harbor_spec_of(task)
        assert spec.environment == "sandbox" and spec.network == "no-network", task.id
        answer = parse_submit(task.data["solution"][-1])  # `submit <answer>` for tasks with a fixed answer
        assert answer == "" or spec.answer_file is not None, task.id
        assert wrong_attempts(spec.dir), f"{task.id} has no wrong attempt"
        assert Task.from_json(task.to_json()) == task  # JSON: curricula can store and replay it


def play(env: ShellEnv, task: Task, actions: list[str]) -> tuple[float, str]:
    """The reward of an episode, and its transcript with what the tests said."""
    env.reset(options={"task": task})
    reward, info = 0.0, {}
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return reward, f"{env.render()}[the tests' output]\n{info.get('check_output', '')}"


def episodes(tasks: list[Task]) -> list[tuple[Task, str, list[str], float]]:
    """(task, what, actions, expected reward) for every episode the shipped tasks promise."""
    planned = []
    for task in tasks:
        planned.append((task, "reference", list(task.data["solution"]), 1.0))
        for number, attempt in enumerate(wrong_attempts(harbor_spec_of(task).dir), start=1):
            planned.append((task, f"wrong-{number}", attempt, 0.0))
        planned.append((task, "bare submit", ["submit"], 0.0))
    return planned


def play_all(pool: SandboxPool, planned: list[tuple[Task, str, list[str], float]]) -> list[str]:
    """Play the episodes in threads, each with its own env on the shared pool; the ones that went wrong."""
    by_task = collections.defaultdict(list)
    for episode in planned:
        by_task[episode[0].id].append(episode)

    def run(group: list[tuple[Task, str, list[str], float]]) -> list[str]:
        env = ShellEnv(pool=pool, render_mode="ansi", max_steps=5)
        failures = []
        try:
            for task, what, actions, expected in group:
                reward, transcript = play(env, task, actions)
                if reward != expected:
                    failures.append(f"{task.id} {what}: reward {reward}, expected {expected}\n{transcript[-1500:]}")
        finally:
            env.close()
        return failures

    with ThreadPoolExecutor(THREADS) as threads:
        return [failure for failures in threads.map(run, by_task.values()) for failure in failures]


@pytest.fixture(scope="module")
def wide_pool(client, sandbox_image):
    with SandboxPool(sandbox_image, size=THREADS, client=client) as pool:
        yield pool


@pytest.mark.docker
@pytest.mark.slow
def test_every_shipped_task_rewards_its_solution_and_no_wrong_attempt(wide_pool, tmp_path):
    # played from an exported copy, so that export -> import is checked on every task too
    export_tasks(SHIPPED, tmp_path)
    imported = read_tasks(tmp_path)
    assert [task.id for task in imported] == [task.id for task in SHIPPED]
    failures = play_all(wide_pool, episodes(imported))
    assert not failures, f"{len(failures)} episodes went wrong:\n\n" + "\n\n".join(failures)
