"""Harbor task formats written elsewhere, as selfgym reads and plays them: multi-step tasks (``[[steps]]``, Harbor
2026-05: each step's instruction, workdir and setup, tests over the task's, min_reward, the mean or final reward),
terminal-bench directories without a Dockerfile of their own (a named image, or a build context in a subfolder),
and folders read task by task (the tasks that cannot be played are listed with the reason; ``strict`` refuses the
folder). Third-party tasks may not be vendored here, so the task directories are written in those formats by the
tests, and Harbor's own parser (``.venv-harbor``) checks the Harbor ones."""

from __future__ import annotations

import json
import subprocess
import textwrap
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_harbor import harbor_python, play, sandbox_task, terminal_bench_task

from selfgym.cli import main as cli
from selfgym.envs.harbor import TaskDirError, harbor_spec_of, read_task, read_tasks
from selfgym.envs.shell_env import ShellEnv

docker = pytest.mark.docker
T_BENCH_IMAGE = "ghcr.io/laude-institute/t-bench/python-3-13:20250620"  # not pullable offline: a stand-in plays it

STEP_TESTS = """
    #!/bin/bash
    # the step's own test: the task's shared helper (tests/lib.sh) is there too
    . /tests/lib.sh
    score "$(cat /work/stage.txt 2>/dev/null)" {expected}
    """


def multi_step_task(root: Path, name: str = "pipeline", *, head: str = "", min_reward: str = "") -> Path:
    """A three-step task on selfgym's sandbox: step 1 gets a workdir file and a setup script, steps 1 and 2 have
    tests of their own over the task's shared ones, step 3 falls back to the task's tests/test.sh."""
    folder = sandbox_task(root, name, f"""
        [verifier]
        timeout_sec = 30.0
        [agent]
        timeout_sec = 120.0

        [[steps]]
        name = "fetch"
        {min_reward}
        [steps.agent]
        timeout_sec = 60.0

        [[steps]]
        name = "transform"
        [steps.verifier]
        timeout_sec = 20.0
        env = {{ EXPECTED = "FETCHED" }}

        [[steps]]
        name = "report"
        """, tests={
        "lib.sh": 'score() { if [ "$1" = "$2" ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt; }\n',
        "test.sh": "#!/bin/bash\n. /tests/lib.sh\nscore \"$(cat /work/report.txt 2>/dev/null)\" 'lines: 1'\n",
    })
    files = {
        "steps/fetch/instruction.md": "Copy the seed file's word into stage.txt.\n",
        "steps/fetch/workdir/seed.txt": "fetched\n",
        "steps/fetch/workdir/setup.sh": "#!/bin/bash\nchmod 0444 seed.txt\necho set-up > .fetch-ready\n",
        "steps/fetch/tests/test.sh": STEP_TESTS.format(expected="fetched"),
        "steps/fetch/solution/solve.sh": "cat seed.txt > stage.txt\n",
        "steps/transform/instruction.md": "<!-- canary: not for training -->\nUpper-case stage.txt in place.\n",
        "steps/transform/tests/test.sh": STEP_TESTS.format(expected='"$EXPECTED"'),
        "steps/transform/solution/solve.sh": "tr a-z A-Z < stage.txt > s && mv s stage.txt\n",
        "steps/report/instruction.md": "Write 'lines: N' to report.txt, N being the lines of stage.txt.\n",
        "steps/report/solution/solve.sh": 'echo "lines: $(wc -l < stage.txt)" > report.txt\n',
    }
    (folder / "instruction.md").unlink()  # a multi-step task has its instructions per step
    toml = folder / "task.toml"  # the root keys go before the first table
    toml.write_text(f'schema_version = "1.4"\n{head}\n' + toml.read_text())
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return folder


NAMED_IMAGE = f"""services:
  client:
    image: {T_BENCH_IMAGE}
    container_name: ${{T_BENCH_TASK_DOCKER_CLIENT_CONTAINER_NAME}}
    command: ["sh", "-c", "sleep infinity"]
    working_dir: /app
    environment:
      - TEST_DIR=${{T_BENCH_TEST_DIR}}
    volumes:
      - ${{T_BENCH_TASK_LOGS_PATH}}:${{T_BENCH_CONTAINER_LOGS_PATH}}
"""

SUBFOLDER_CONTEXT = """services:
  client:
    build:
      context: client
    image: ${T_BENCH_TASK_DOCKER_CLIENT_IMAGE_NAME}
    environment:
      - TEST_DIR=${T_BENCH_TEST_DIR}
"""


# --- reading (no Docker) -----------------------------------------------------------------------------------------

def test_a_multi_step_task_is_read_step_by_step(tmp_path):
    task = read_task(multi_step_task(tmp_path))
    spec = harbor_spec_of(task)
    assert task.prompt == "Copy the seed file's word into stage.txt."
    assert [s.name for s in spec.steps] == ["fetch", "transform", "report"] and spec.reward_strategy == "mean"
    fetch, transform, report = spec.steps
    assert fetch.setup and fetch.workdir.endswith("steps/fetch/workdir") and fetch.agent_timeout_s == 60
    assert transform.instruction == "Upper-case stage.txt in place."  # canary lines left out, as Harbor does
    assert (transform.verifier_timeout_s, transform.verifier_env, transform.agent_timeout_s) == (
        20, {"EXPECTED": "FETCHED"}, 120)
    # the task's tests/test.sh; a step's verifier timeout is Harbor's default, 600 s, not the task's
    assert report.tests_dir is None and report.verifier_timeout_s == 600
    assert task.data["solution"][1::2] == ["submit"] * 3
    assert "cat seed.txt > stage.txt" in task.data["solution"][0]


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "steps/transform/instruction.md").unlink(), "instruction of step 'transform'"),
    (lambda d: (d / "tests/test.sh").unlink(), "step 'report' has no test script"),
    (lambda d: _toml(d, 'name = "fetch"', 'name = "fetch"\n[steps.verifier]\nenvironment_mode = "separate"'),
     "not the last step"),
    (lambda d: _toml(d, 'name = "report"', 'name = "FETCH"'), "unique"),
    (lambda d: _toml(d, 'name = "report"', 'name = "../report"'), "invalid step name"),
])
def test_a_broken_multi_step_task_is_an_error_naming_the_step(tmp_path, change, message):
    folder = multi_step_task(tmp_path)
    change(folder)
    with pytest.raises(TaskDirError, match=message):
        read_task(folder)


def _toml(folder: Path, old: str, new: str) -> None:
    toml = folder / "task.toml"
    toml.write_text(toml.read_text().replace(old, new, 1))


def test_terminal_bench_tasks_without_a_dockerfile_of_their_own(tmp_path):
    named = harbor_spec_of(read_task(terminal_bench_task(tmp_path, "named", NAMED_IMAGE)))
    assert (named.docker_image, named.context, named.workdir) == (T_BENCH_IMAGE, None, "/app")
    sub = terminal_bench_task(tmp_path, "subfolder", SUBFOLDER_CONTEXT, {"client/Dockerfile": "FROM x\n"})
    assert harbor_spec_of(read_task(sub)).context == str(sub / "client")
    nothing = terminal_bench_task(tmp_path, "nothing", "services:\n  client:\n    command: sleep infinity\n")
    with pytest.raises(TaskDirError, match="no environment"):
        read_task(nothing)
    (nothing / "docker-compose.yaml").unlink()
    with pytest.raises(TaskDirError, match="no environment"):
        read_task(nothing)


def test_a_folder_is_read_task_by_task_and_strict_refuses_it_whole(tmp_path):
    multi_step_task(tmp_path, "a-multi")
    terminal_bench_task(tmp_path, "b-tbench", NAMED_IMAGE)
    broken = multi_step_task(tmp_path, "c-broken")
    (broken / "steps/report/instruction.md").unlink()
    terminal_bench_task(tmp_path, "d-compose", "services:\n  a:\n    image: x\n  b:\n    image: y\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tasks = read_tasks(tmp_path)
    assert [t.id for t in tasks] == ["a-multi", "b-tbench"]
    assert [name for name, _ in tasks.skipped] == ["c-broken", "d-compose"]
    assert "instruction of step 'report'" in tasks.skipped[0][1] and "2 services" in tasks.skipped[1][1]
    assert len(caught) == 1 and "2 of 4 task directories" in str(caught[0].message)
    with pytest.raises(TaskDirError, match=r"c-broken: .*instruction of step 'report'.*strict"):
        read_tasks(tmp_path, strict=True)
    # the CLI lists both; --strict makes the refused ones an error
    result = CliRunner().invoke(cli, ["tasks", "check", str(tmp_path)])
    assert result.exit_code == 0 and "2 tasks can be played" in result.output and "c-broken" in result.output
    result = CliRunner().invoke(cli, ["tasks", "check", str(tmp_path), "--strict"])
    assert result.exit_code == 2 and "c-broken" in result.output


HARBOR_READS_STEPS = """
import json, sys, warnings
warnings.simplefilter("ignore")
from harbor.models.task.task import Task
from harbor.models.task.verifier_mode import resolve_step_verifier_mode
task = Task(sys.argv[1])
steps = task.config.steps
print(json.dumps({"name": task.name, "has_steps": task.has_steps,
                  "steps": [[s.name, task.step_instruction(s.name).strip(), s.agent.timeout_sec,
                             s.verifier.timeout_sec, resolve_step_verifier_mode(task.config, s).value, s.min_reward]
                            for s in steps],
                  "strategy": task.config.multi_step_reward_strategy}))
"""


def test_harbors_own_parser_reads_the_multi_step_task_as_selfgym_does(tmp_path):
    python = harbor_python()
    if python is None:
        pytest.skip("no Python with harbor (.venv-harbor, made by scripts/setup.sh)")
    folder = multi_step_task(tmp_path, head='multi_step_reward_strategy = "final"', min_reward="min_reward = 1.0")
    result = subprocess.run([python, "-c", HARBOR_READS_STEPS, str(folder)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout)
    spec = harbor_spec_of(ours := read_task(folder))
    assert theirs["name"] == ours.id and theirs["has_steps"]
    assert theirs["strategy"] == spec.reward_strategy == "final"
    for (name, instruction, agent_s, verifier_s, mode, min_reward), step in zip(theirs["steps"], spec.steps,
                                                                                strict=True):
        assert (name, instruction, mode, min_reward) == (step.name, step.instruction, step.verifier_mode,
                                                         step.min_reward)
        assert agent_s in (None, step.agent_timeout_s) and verifier_s == step.verifier_timeout_s


# --- playing (Docker) --------------------------------------------------------------------------------------------

@pytest.fixture
def make_env(env_factory):
    return lambda **kwargs: env_factory(ShellEnv, **kwargs)


@docker
def test_a_multi_step_task_reference_solution_gets_1_and_the_null_agent_0(make_env, tmp_path):
    folder = multi_step_task(tmp_path)
    task = read_task(folder)
    env = make_env()
    observation, info = env.reset(options={"task": task})
    assert observation.startswith("Copy the seed file's word") and "The task has 3 steps" in observation
    assert info["step"] == "fetch"
    # step 1's workdir and setup ran in the working directory before the agent's first command
    assert env.step("cat seed.txt .fetch-ready; stat -c %a seed.txt")[0] == "fetched\nset-up\n444\n[exit code 0]"
    solution = task.data["solution"]
    env.step(solution[0])
    observation, reward, terminated, _, info = env.step("submit")
    assert (reward, terminated, info["step_rewards"]) == (0.0, False, {"reward": 1.0})
    assert "step 1 of 3 (fetch): its check passed" in observation and "Step 2 of 3: Upper-case" in observation
    reward, terminated, info = 0.0, False, {}
    for action in solution[2:]:
        _, reward, terminated, _, info = env.step(action)
    assert (reward, terminated, info["passed"], info["steps_run"]) == (1.0, True, True, 3), info["check_output"]
    # the null agent: three bare submits, each step failed; the mean is 0
    assert play(env, folder, ["submit"] * 3)[:2] == (0.0, True)
    # two of three steps right: Harbor's mean, 2/3
    reward, terminated, info = play(env, folder, [*solution[:4], "submit"])
    assert (round(reward, 3), terminated, info["rewards"]) == (0.667, True, {"reward": pytest.approx(2 / 3)})


@docker
def test_min_reward_stops_the_task_and_final_takes_the_last_step(make_env, tmp_path):
    env = make_env()
    gated = multi_step_task(tmp_path, "gated", min_reward="min_reward = 1.0")
    reward, terminated, info = play(env, gated, ["submit"])  # step 1 failed its min_reward: the task ends there
    assert (reward, terminated, info["steps_run"]) == (0.0, True, 1) and "min_reward" in info["stopped"]
    final = multi_step_task(tmp_path, "final", head='multi_step_reward_strategy = "final"')
    solution = read_task(final).data["solution"]
    wrong_then_right = ["echo wrong > stage.txt", "submit", "submit", *solution[4:]]
    assert play(env, final, wrong_then_right)[:2] == (1.0, True)  # only the last step counts


@docker
def test_terminal_bench_tasks_on_a_named_image_with_a_stand_in_and_on_a_subfolder_context(
        make_env, tmp_path, sandbox_image):
    named = terminal_bench_task(tmp_path, "named", NAMED_IMAGE)
    env = make_env(base_images={T_BENCH_IMAGE: sandbox_image})
    task = read_task(named)
    reward, _, info = play(env, named, task.data["solution"])
    assert reward == 1.0, info["check_output"]
    assert play(env, named, ["submit"])[0] == 0.0
    sub = terminal_bench_task(tmp_path, "subfolder", SUBFOLDER_CONTEXT,
                              {"client/Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\n"})
    reward, _, info = play(make_env(), sub, read_task(sub).data["solution"])
    assert reward == 1.0, info["check_output"]
