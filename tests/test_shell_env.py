"""selfgym/Shell-v0 on the real sandbox: every shipped task, the session, malformed actions, Gymnasium API."""

from __future__ import annotations

import functools

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs import Task
from selfgym.envs.shell import load_task_file, parse_submit, shipped_tasks, tasks_from_entries
from selfgym.envs.shell_env import ShellEnv
from selfgym.sandbox import InfrastructureError

SHIPPED = list(shipped_tasks())
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


# --- the shipped task set -----------------------------------------------------------------------------------

def test_shipped_tasks_are_many_and_varied():
    assert len(SHIPPED) >= 25
    categories = {task.data["category"] for task in SHIPPED}
    assert {"files", "text", "archives", "git", "processes"} <= categories
    assert {task.difficulty for task in SHIPPED} == {0, 1, 2, 3}
    assert all(task.family == "shell" and task.id.startswith("shell/") for task in SHIPPED)
    for task in SHIPPED:
        assert Task.from_json(task.to_json()) == task  # the spec is JSON: curricula can store and replay it


@docker
@pytest.mark.parametrize("task", SHIPPED, ids=[task.id for task in SHIPPED])
def test_reference_solution_gets_reward_1(make_env, task):
    env = make_env(render_mode="ansi")
    reward, terminated, info = play(env, task.id, list(task.data["solution"]))
    assert (reward, terminated, info["passed"]) == (1.0, True, True), env.render()


@docker
@pytest.mark.parametrize("task", SHIPPED, ids=[task.id for task in SHIPPED])
def test_submitting_without_working_gets_reward_0(make_env, task):
    reward, terminated, info = play(make_env(), task.id, ["submit"])
    assert (reward, terminated, info["passed"]) == (0.0, True, False)


# Plausible but wrong attempts: the checks judge the outcome, not the effort.
WRONG_ATTEMPTS = {
    "shell/files-003": ["find data -type f -size +1k -delete; rm data/a/edge.dat"],
    "shell/files-005": ["ln -s /work/releases/$(ls releases | sort | tail -n 1) current"],
    "shell/text-005": ["sort -r numbers.txt > sorted.txt"],
    "shell/text-008": ["grep -v '^#' settings.ini > clean.ini"],
    "shell/git-004": ["cd repo && git reset --hard HEAD~1"],
    "shell/git-007": ["cd vault && FILTER_BRANCH_SQUELCH_WARNING=1 git filter-branch -f --index-filter "
                      "'git rm -q --cached --ignore-unmatch credentials.env' -- --all"],  # refs/original left
    "shell/processes-001": ["pkill -f svc/"],
    "shell/processes-003": ["pkill -f svc/worker.sh"],
    "shell/processes-006": [": > out/spam.log"],
    "shell/archives-004": ["submit quartz-harbor"],
}


@docker
@pytest.mark.parametrize("task_id", sorted(WRONG_ATTEMPTS))
def test_wrong_attempts_get_reward_0(make_env, task_id):
    actions = WRONG_ATTEMPTS[task_id]
    if parse_submit(actions[-1]) is None:
        actions = [*actions, "submit"]
    reward, terminated, _ = play(make_env(), task_id, actions)
    assert (reward, terminated) == (0.0, True)


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
