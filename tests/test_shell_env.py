"""selfgym/Shell-v0 on the real sandbox: the session, malformed actions, Gymnasium API. (The shipped tasks are
played by test_shell_tasks.py, Harbor directories by test_harbor.py.)"""

from __future__ import annotations

import functools

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.shell import load_task_file, parse_submit, tasks_from_entries
from selfgym.envs.shell_env import ShellEnv
from selfgym.sandbox import InfrastructureError

docker = pytest.mark.docker


@pytest.fixture
def make_env(env_factory):
    """ShellEnv factory on the module's shared pool (conftest); every env made is closed after the test."""
    return functools.partial(env_factory, ShellEnv)


def play(env: ShellEnv, task_id: str, actions: list[str]) -> tuple[float, bool, dict]:
    env.reset(options={"task_id": task_id})
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
    return reward, terminated, info


# --- the session --------------------------------------------------------------------------------------------

@docker
def test_session_keeps_directory_variables_and_functions(make_env):
    env = make_env()
    env.reset(options={"task_id": "shell/files-001"})
    steps = [
        ("mkdir -p a/b && cd a/b", "[exit code 0]"),
        ("pwd", "/work/a/b\n"),
        ("export GREETING=hello; count=3; shout() { echo \"$1!\"; }", "[exit code 0]"),
        ("echo \"$GREETING $count\"; shout hey", "hello 3\nhey!\n"),
        ("cd /does-not-exist", "[exit code 1]"),
        ("pwd", "/work/a/b\n"),
        ("echo out; echo err >&2; exit 7", "out\nerr\n[exit code 7]"),
        ("cd .. && unset count; echo \"[$count]\"", "[]\n"),
        ("pwd; echo \"[$count]\"", "/work/a\n[]\n"),
    ]
    for action, expected in steps:
        observation, reward, terminated, truncated, info = env.step(action)
        assert expected in observation, (action, observation)
        assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["exit_code"] == 0 and info["timed_out"] is False


@docker
def test_the_same_command_gives_the_same_text_whatever_the_scheduler_does(make_env):
    """Issue 26: `X | Q` twenty times gave two texts (the two errors in either order). Processes that run at the
    same time now show their stderr in the order of the commands; what runs one after another keeps its order."""
    env = make_env(max_steps=200)
    env.reset(seed=0)
    cases = {
        "X | Q": "bash: line {line}: X: command not found\nbash: line {line}: Q: command not found\n[exit code 127]",
        "ls /nope | cat; echo after | cat >&2": "ls: cannot access '/nope': No such file or directory\nafter\n"
                                                "[exit code 0]",
        "for i in 1 2; do ls /n$i | cat; done && echo done": "ls: cannot access '/n1': No such file or directory\n"
                                                             "ls: cannot access '/n2': No such file or directory\n"
                                                             "done\n[exit code 0]",
        "Y & echo started": "started\nbash: line {line}: Y: command not found\n[exit code 0]",
        "{ ls /a; ls /b; } | cat; echo c": "ls: cannot access '/a': No such file or directory\nls: cannot access "
                                          "'/b': No such file or directory\nc\n[exit code 0]",
        "echo a; ls /n3; echo b": "a\nls: cannot access '/n3': No such file or directory\nb\n[exit code 0]",
        "exec 2>/dev/null; ls /n4 | cat; echo quiet": "quiet\n[exit code 0]",
    }
    seen = {command: {env.step(command)[0] for _ in range(8)} for command in cases}
    line = next(iter(seen["X | Q"])).split(":")[1].split()[1]  # where the session's eval runs the command
    for command, expected in cases.items():
        assert seen[command] == {expected.format(line=line)}, command


@docker
def test_background_jobs_stop_with_their_command_unless_the_task_keeps_them(make_env):
    env = make_env()
    env.reset(options={"task_id": "shell/files-001"})
    env.step("sleep 300 &")
    assert "[exit code 1]" in env.step("pgrep -x -f 'sleep 300'")[0]
    env.reset(options={"task_id": "shell/processes-004"})
    env.step("sleep 300 &")
    assert "[exit code 0]" in env.step("pgrep -x -f 'sleep 300'")[0]


@docker
def test_a_command_that_times_out_is_reported_and_the_episode_goes_on(make_env):
    env = make_env(command_timeout_s=1)
    env.reset(options={"task_id": "shell/files-001"})
    observation, reward, terminated, truncated, info = env.step("echo started; sleep 100")
    assert "started" in observation and "timed out after 1 s" in observation
    assert info["timed_out"] is True and (reward, terminated, truncated) == (0.0, False, False)
    observation, *_ = env.step("echo still here")
    assert observation == "still here\n[exit code 0]"


@docker
def test_long_output_is_cut_in_the_middle(make_env):
    env = make_env(max_output_chars=1000)
    env.reset(options={"task_id": "shell/files-001"})
    observation, *_ = env.step("seq 1 100000")
    assert len(observation) < 1200
    assert observation.startswith("1\n2\n3\n") and "characters omitted" in observation
    assert observation.endswith("100000\n[exit code 0]")


@docker
@pytest.mark.parametrize("action, expected", [
    ("", "empty"),
    ("   \n\t", "empty"),
    ("x" * 20_000, "limit is 16,000"),
    (b"ls \xff\xfe", "not valid UTF-8"),
    ("ls \udcff", "unpaired surrogates"),
    ("ls\x00 -la", "NUL"),
    (42, "must be text"),
])
def test_malformed_actions_are_observations_not_exceptions(make_env, action, expected):
    env = make_env()
    env.reset(options={"task_id": "shell/files-001"})
    observation, reward, terminated, truncated, info = env.step(action)
    assert expected in observation
    assert (reward, terminated, truncated, info["malformed"]) == (0.0, False, False, True)
    assert env.step("echo fine")[0] == "fine\n[exit code 0]"


def test_parse_submit():
    assert parse_submit("submit") == ""
    assert parse_submit("  submit  \n") == ""
    assert parse_submit("submit 42") == "42"
    assert parse_submit("submit   tune logging for staging \n") == "tune logging for staging"
    assert parse_submit("submitted") is None
    assert parse_submit("ls; submit") is None
    assert parse_submit("echo submit") is None


# --- episodes and the Gymnasium API -------------------------------------------------------------------------

@docker
def test_answer_tasks_take_the_answer_from_submit(make_env):
    assert play(make_env(), "shell/files-008", ["submit 6"])[0] == 1.0
    reward, _, info = play(make_env(), "shell/files-008", ["submit 7"])
    assert reward == 0.0 and info["answer"] == "7"


@docker
def test_step_budget_truncates(make_env):
    env = make_env(max_steps=2)
    env.reset(options={"task_id": "shell/files-001"})
    assert env.step("true")[3] is False
    _, reward, terminated, truncated, _ = env.step("true")
    assert (reward, terminated, truncated) == (0.0, False, True)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("true")


@docker
def test_any_task_runs_from_reset_options(make_env):
    task = {"id": "shell/custom-1", "family": "shell", "prompt": "Write hi to /work/hi.txt.", "difficulty": 0,
            "data": {"category": "files", "setup": "echo ready > marker",
                     "check": "[ \"$(cat hi.txt)\" = hi ]", "solution": ["echo hi > hi.txt", "submit"]}}
    env = make_env()
    observation, info = env.reset(options={"task": task})
    assert observation.startswith("Write hi to /work/hi.txt.") and info["category"] == "files"
    assert "ready" in env.step("cat marker")[0]
    assert env.step("echo hi > hi.txt")[1:3] == (0.0, False)
    assert env.step("submit")[1:3] == (1.0, True)


@docker
def test_broken_tasks_are_reported_at_reset(make_env):
    env = make_env()
    bad_setup = {"id": "x", "family": "shell", "prompt": "p",
                 "data": {"category": "files", "setup": "echo oops; false", "check": "true",
                          "solution": ["submit"]}}
    with pytest.raises(ValueError, match=r"setup of shell task 'x' failed(?s:.*)oops"):
        env.reset(options={"task": bad_setup})
    missing_check = {"id": "y", "family": "shell", "prompt": "p",
                     "data": {"category": "files", "solution": ["submit"]}}
    with pytest.raises(ValueError, match="check"):
        env.reset(options={"task": missing_check})


@docker
def test_render_ansi_shows_the_transcript(make_env):
    env = make_env(render_mode="ansi")
    env.reset(options={"task_id": "shell/files-001"})
    env.step("echo rendered-output")
    text = env.render()
    assert "shell/files-001" in text and "echo rendered-output" in text
    assert "rendered-output\n[exit code 0]" in text


@docker
def test_close_gives_the_sandbox_back(pool):
    env = ShellEnv(pool=pool)
    env.reset(options={"task_id": "shell/files-001"})
    other = ShellEnv(pool=pool)
    other.reset(options={"task_id": "shell/files-001"})
    env.close()
    with pool.acquire(timeout=10) as sandbox:  # a pool of 2: only free if close() released it
        assert sandbox.run("ls").stdout == ""  # and it was wiped on the way back
    other.close()
    env.close()  # closing twice is fine


@docker
def test_a_lost_sandbox_is_replayed_not_counted_against_the_agent(make_env, client):
    env = make_env()
    env.reset(options={"task_id": "shell/files-002"})
    env.step("echo mine > mine.txt && cd docs")
    client.api.kill(env.sandbox.container_id)  # the engine loses the container: nothing the agent did
    observation, reward, terminated, _, info = env.step("ls; cat ../mine.txt")
    # a fresh sandbox, set up from the task and brought to the episode's state by replaying the first command
    assert info["infra_retries"] == 1 and info["exit_code"] == 0 and not terminated
    assert "intro.txt" in observation and "mine" in observation
    assert [event["step"] for event in env.infra_events] == [2]
    _, _, _, _, info = env.step("ls")
    assert info["infra_retries"] == 0


@docker
def test_a_sandbox_lost_past_the_retries_is_an_infrastructure_error(make_env, client):
    env = make_env()
    env.infra_retries = 0
    env.reset(options={"task_id": "shell/files-002"})
    client.api.kill(env.sandbox.container_id)
    with pytest.raises(InfrastructureError, match="no failure of the agent"):
        env.step("ls docs")
    env.reset(options={"task_id": "shell/files-002"})  # the env is usable again
    assert env.step("ls docs")[4]["exit_code"] == 0


@docker
def test_check_env_passes(sandbox_image):
    # private pools: check_env re-makes the env from its spec, and gym.make deep-copies the spec's kwargs
    env = gym.make("selfgym/Shell-v0", image=sandbox_image, max_steps=5)
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


@docker
def test_sync_vector_env_shares_one_pool(pool):
    envs = gym.vector.SyncVectorEnv([lambda: ShellEnv(pool=pool) for _ in range(2)])
    try:
        observations, _ = envs.reset(seed=0, options={"task_id": "shell/files-001"})
        assert all(obs.startswith("Create the directory /work/project/src") for obs in observations)
        envs.step(("mkdir -p project/src && touch project/src/__init__.py", "echo lazy"))
        _, rewards, terminated, truncated, _ = envs.step(("submit", "submit"))
        assert list(rewards) == [1.0, 0.0]  # each env has its own sandbox
        assert list(terminated) == [True, True] and not any(truncated)
    finally:
        envs.close()


@docker
def test_async_vector_env(sandbox_image):
    # each worker process has its own private pool; Gymnasium's shared memory holds Text observations as
    # indices into the space's sample charset, which program output does not keep to, so it is switched off
    envs = gym.make_vec("selfgym/Shell-v0", num_envs=2, vectorization_mode="async",
                        vector_kwargs={"context": "spawn", "shared_memory": False}, image=sandbox_image)
    try:
        envs.reset(seed=1, options={"task_id": "shell/files-008"})
        observations, rewards, terminated, _, _ = envs.step(("find tree -type f | wc -l", "echo hi"))
        assert list(observations) == ["6\n[exit code 0]", "hi\n[exit code 0]"]
        _, rewards, terminated, _, _ = envs.step(("submit 6", "submit 5"))
        assert list(rewards) == [1.0, 0.0] and all(terminated)
    finally:
        envs.close()


# --- task files ---------------------------------------------------------------------------------------------

def test_task_files_load_and_errors_name_the_task_and_key(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("- id: shell/mine-1\n  difficulty: 1\n  category: text\n  prompt: Say hi.\n"
                    "  check: '[ \"$SELFGYM_ANSWER\" = hi ]'\n  solution: [submit hi]\n")
    [task] = load_task_file(path)
    assert (task.id, task.difficulty, task.data["check"], task.data["keep_background"]) == (
        "shell/mine-1", 1, '[ "$SELFGYM_ANSWER" = hi ]', False)
    entry = {"id": "shell/bad", "difficulty": 0, "category": "files", "prompt": "p", "check": "true",
             "solution": ["ls"], "chek": "typo"}
    with pytest.raises(ValueError, match=r"shell/bad.*(?s:.*)chek"):
        tasks_from_entries([entry], "here.yaml")
    valid_but_for_solution = {key: value for key, value in entry.items() if key != "chek"}
    with pytest.raises(ValueError, match="last action of a solution must be a submit"):
        tasks_from_entries([valid_but_for_solution], "here.yaml")
    assert ShellEnv(tasks=path).source.get("shell/mine-1") == task
