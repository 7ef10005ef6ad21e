"""Forks of an episode on every env (``clone_state`` / ``restore_state`` / ``fork``), on the real sandbox.

The contract, per env: a fork and its parent evolve independently (each branch changes its own sandbox); the same
actions from a fork give the same observations and rewards as the whole prefix played from scratch; a state restored
into the env that saved it plays on as from the point it was saved. Remote-v0 and Web-v0 are in test_forks_remote.py
and test_forks_web.py.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import pytest

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.code_env import CodeEnv
from selfgym.envs.forks import EnvState, restore_into
from selfgym.envs.math_env import MathEnv
from selfgym.envs.shell import tasks_from_entries
from selfgym.envs.shell_env import ShellEnv
from selfgym.envs.task import Task

docker = pytest.mark.docker
VOLATILE = {"seconds", "infra_retries"}  # timings, and what the engine did (not the episode)


def play(env: gym.Env, actions: Sequence[str]) -> list[tuple[Any, ...]]:
    """Each step's (observation, reward, terminated, truncated, info without timings)."""
    out = []
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        out.append((observation, reward, terminated, truncated, {k: v for k, v in info.items() if k not in VOLATILE}))
    return out


def check_contract(make: Callable[[], gym.Env], options: dict, prefix: Sequence[str], branch: Sequence[str],
                   other: Sequence[str]) -> tuple[list, list]:
    """Play ``prefix``, fork, play ``branch`` on the fork and ``other`` on the parent; check both against a replay
    from scratch and against the parent restored to the fork point. Returns (branch's steps, other's steps)."""
    parent = make()
    parent.reset(seed=7, options=options)
    play(parent, prefix)
    saved = parent.clone_state()
    child = parent.fork()
    assert child is not parent and child.steps == parent.steps == len(prefix)
    on_child = play(child, branch)
    on_parent = play(parent, other)  # after the child moved on: the parent does not see its changes
    transcript = child.transcript
    child.close()  # its sandbox back to the pool (of two) for the env that plays from scratch

    scratch = make()
    scratch.reset(seed=7, options=options)
    play(scratch, prefix)
    assert play(scratch, branch) == on_child  # a fork plays on as the whole prefix played from scratch
    scratch.reset(seed=7, options=options)
    play(scratch, prefix)
    assert play(scratch, other) == on_parent

    parent.restore_state(saved)  # back to the fork point, in the env that saved it
    assert parent.steps == len(prefix) and not parent.done
    assert play(parent, branch) == on_child
    assert transcript == parent.transcript
    return on_child, on_parent


@docker
def test_code_forks_keep_the_conversation_and_attempts(env_factory):
    task = {"task_id": "HumanEval/0"}
    right = CodeEnv.reference_actions(CodeEnv().source.get("HumanEval/0"))[0]
    wrong = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"
    on_child, on_parent = check_contract(lambda: env_factory(CodeEnv, max_steps=3), task, [wrong], [right], [wrong])
    assert on_child[0][1:3] == (1.0, True) and on_parent[0][1:3] == (0.0, False)
    assert "Attempt 2" in on_child[0][0] or on_child[0][4]["passed"] == on_child[0][4]["total"]


@docker
def test_math_forks_keep_the_tool_files_and_each_branch_its_own(env_factory):
    task = {"task": Task("sum", "custom", "What is 20 + 22?", data={"answer": "42"}).to_dict()}
    prefix = ["<python>\nopen('note', 'w').write('20+22')\nprint('saved')\n</python>"]
    branch = ["<python>\nprint(open('note').read()); open('note', 'a').write(' checked')\n</python>",
              "<python>\nprint(open('note').read())\n</python>", "\\boxed{42}"]
    other = ["<python>\nopen('note', 'w').write('wrong')\n</python>", "<python>\nprint(open('note').read())\n</python>",
             "\\boxed{41}"]
    on_child, on_parent = check_contract(lambda: env_factory(MathEnv, max_steps=5), task, prefix, branch, other)
    assert "20+22 checked" in on_child[1][0] and "wrong" in on_parent[1][0]  # each branch sees its own files only
    assert [s[1] for s in on_child] == [0.0, 0.0, 1.0] and on_parent[-1][1] == 0.0


SHELL_TASK = tasks_from_entries([{
    "id": "fork-1", "prompt": "Write yes to /work/answer.", "category": "files", "difficulty": 1,
    "setup": "echo seed > given", "check": 'test "$(cat /work/answer)" = yes',
    "solution": ["echo yes > answer", "submit"]}], "test")[0]


@docker
def test_shell_forks_keep_files_directory_and_variables(env_factory):
    prefix = ["mkdir -p d && cd d && export WORD=yes && note() { echo \"note:$1\"; }", "echo partial > ../answer"]
    branch = ["pwd; note $WORD; cat ../given ../answer", "echo $WORD > /work/answer", "submit"]
    other = ["cd / && WORD=no; note x", "echo $WORD > /work/answer; cat /work/answer", "submit"]
    on_child, on_parent = check_contract(lambda: env_factory(ShellEnv), {"task": SHELL_TASK}, prefix, branch, other)
    assert on_child[0][0].startswith("/work/d\nnote:yes\nseed\npartial\n")
    assert (on_child[-1][1], on_parent[-1][1]) == (1.0, 0.0)


@docker
def test_a_fork_waits_for_a_sandbox_only_so_long_and_says_why(env_factory):
    parent = env_factory(ShellEnv)
    parent.reset(options={"task": SHELL_TASK})
    parent.step("echo kept > kept")
    parent.fork_sandbox_wait_s = 1.0
    first = parent.fork()  # the pool's two sandboxes: the parent's and this fork's
    try:
        with pytest.raises(TimeoutError, match="fork: no sandbox of the pool became free within 1 s"):
            parent.fork()  # used to wait forever, in the thread that could free one
    finally:
        first.close()
    second = parent.fork()
    try:
        assert second.step("cat kept")[0].startswith("kept")
    finally:
        second.close()


@docker
def test_shell_tasks_with_background_processes_are_replayed_and_say_so(env_factory):
    task = tasks_from_entries([{
        "id": "fork-bg", "prompt": "Keep a sleeper.", "category": "processes", "difficulty": 1, "keep_background": True,
        "check": "vpgrep sleep 'sleep 300'", "solution": ["(sleep 300 &)", "submit"]}], "test")[0]
    env = env_factory(ShellEnv)
    env.reset(options={"task": task})
    env.step("(sleep 300 &) ; echo started > log")
    state = env.clone_state()
    assert state.kind == "replay" and "background" in state.notes[0]
    child = env.fork()
    assert child.step("cat log; pgrep -c -x sleep")[0].startswith("started\n1\n")  # the replay started it again
    assert child.step("submit")[1] == 1.0
    child.close()


@docker
def test_a_wrapped_env_restores_through_its_wrappers_and_states_pickle(pool):
    env = gym.make("selfgym/Shell-v0", pool=pool, max_steps=3)
    try:
        env.reset(options={"task": SHELL_TASK})
        env.step("echo yes > answer")
        state = pickle.loads(pickle.dumps(env.unwrapped.clone_state()))  # a state is data: it can be stored
        assert isinstance(state, EnvState) and state.kind == "files" and state.nbytes > 0
        other = gym.make("selfgym/Shell-v0", pool=pool, max_steps=3)
        try:
            restore_into(other, state)  # never reset: the wrappers are told an episode is under way
            assert other.step("submit")[1] == 1.0
        finally:
            other.close()
    finally:
        env.close()


def test_bad_uses_say_what_to_do():
    env = MathEnv()
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.clone_state()
    env.reset(options={"task": Task("t", "custom", "1+1?", data={"answer": "2"}).to_dict()})
    with pytest.raises(TypeError, match="EnvState"):
        env.restore_state({"steps": 3})
    with pytest.raises(ValueError, match="cannot be restored into"):
        CodeEnv().restore_state(env.clone_state())
    pickled = pickle.loads(pickle.dumps(env))  # mid-episode without its sandbox: its state is gone
    with pytest.raises(gym.error.ResetNeeded, match="unpickled"):
        pickled.clone_state()
    env.close()


@docker
def test_a_harbor_task_in_the_sandbox_forks_by_its_files(env_factory):
    env = env_factory(ShellEnv)
    task = env.source.get("shell/files-001")  # a shipped task: a Harbor directory set up in selfgym's sandbox
    env.reset(options={"task_id": task.id})
    solution = ShellEnv.reference_actions(task)
    play(env, solution[:-1])
    assert env.clone_state().kind == "files"
    child = env.fork()
    assert child.step(solution[-1])[1] == 1.0  # the fork is judged by the task's own tests, on its files
    child.close()
    env.step("rm -rf /work/* /work/.[!.]* 2>/dev/null; true")  # the parent's branch undoes the work...
    assert env.step(solution[-1])[1] == 0.0  # ...and fails, whatever the fork did


class _Saving:
    """A stand-in env whose state holds ``size`` bytes of files (a unit test of the server's store alone)."""

    def __init__(self, size: int) -> None:
        self.unwrapped = self
        self.size = size

    def clone_state(self) -> EnvState:
        return EnvState("x.Env", Task("t", "f", "p"), 0, False, (), (), (), None, {}, "files", b"x" * self.size)


def test_the_servers_snapshots_are_bounded_per_session_and_in_bytes_and_no_session_drops_anothers():
    from selfgym.envs.remote.forks import SnapshotStore

    store = SnapshotStore(max_per_session=3, max_bytes=1000)
    others = [store.save("b", _Saving(300)), store.save("b", _Saving(300))]
    mine = [store.save("a", _Saving(10)) for _ in range(4)]
    assert len(store) == 5  # a's oldest went at its fourth
    with pytest.raises(ValueError, match="at most 1,000"):
        store.save("a", _Saving(500))  # would not fit even without a's own: refused, nothing dropped
    assert len(store) == 5
    assert store.save("a", _Saving(400)) and len(store) == 3  # fits once a's own go: they go, b's stay
    assert set(others) <= store._states.keys()
    with pytest.raises(KeyError, match="no snapshot"):
        store.restore(mine[-1], _Saving(0))
    store.drop_session("b")
    assert len(store) == 1 and store._bytes == 400
