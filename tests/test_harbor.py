"""Harbor task directories in Shell-v0: tasks written by hand in the format behave as the format says (both
verifier modes, reward.txt and reward.json, timeouts, network policy, built environments, terminal-bench's
layout), export -> import keeps every reward, Harbor's own parser reads what selfgym exports, and the attacks on
the verifier that selfgym guards against fail."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfgym.cli import main as cli
from selfgym.envs.harbor import (
    TaskDirError,
    TaskImageError,
    harbor_spec_of,
    read_task,
    read_tasks,
    wrong_attempts,
)
from selfgym.envs.harbor.template import READY_MARKER, sandbox_dockerfile
from selfgym.envs.harbor.verifier import files_of_tar, parse_rewards, scalar_reward
from selfgym.envs.shell import load_task_file, shipped_tasks_dir
from selfgym.envs.shell.export import export_tasks, write_task
from selfgym.envs.shell_env import ShellEnv
from selfgym.sandbox import Limits

docker = pytest.mark.docker
REPO = Path(__file__).resolve().parents[1]


def make_task(root: Path, name: str, toml: str, files: dict[str, str]) -> Path:
    """A task directory written by hand: task.toml, instruction.md and ``files`` (relative path -> text)."""
    folder = root / name
    for relative, text in {"task.toml": textwrap.dedent(toml), "instruction.md": f"Task {name}.\n", **files}.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if relative.endswith(".sh"):
            path.chmod(0o755)
    return folder


def sandbox_task(root: Path, name: str, toml: str, *, setup: str = "", tests: dict[str, str],
                 keep_background: bool = False) -> Path:
    """A task on selfgym's sandbox (the declared template), as selfgym's own tasks are."""
    files = {"environment/Dockerfile": sandbox_dockerfile(setup_at_start=keep_background),
             "environment/setup.sh": setup, **{f"tests/{k}": v for k, v in tests.items()}}
    head = f'\n[metadata.selfgym]\nenvironment = "sandbox"\nkeep_background = {str(keep_background).lower()}\n'
    if keep_background:
        head += f'[environment.healthcheck]\ncommand = "test -e {READY_MARKER}"\ninterval_sec = 0.5\n'
    return make_task(root, name, head + textwrap.dedent(toml), files)


def play(env: ShellEnv, folder: Path, actions: list[str]) -> tuple[float, bool, dict]:
    env.reset(options={"task": read_task(folder)})
    reward, terminated, info = 0.0, False, {}
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return reward, terminated, info


@pytest.fixture
def make_env(env_factory):
    return lambda **kwargs: env_factory(ShellEnv, **kwargs)


# --- reading directories (no Docker) ---------------------------------------------------------------------------

def test_a_harbor_directory_is_read_with_its_settings(tmp_path):
    folder = make_task(tmp_path, "t", """
        schema_version = "1.4"
        [task]
        name = "acme/t"
        [metadata]
        category = "data"
        difficulty = "hard"
        [verifier]
        timeout_sec = 12.0
        env = { MODE = "${SELFGYM_TEST_MODE:-strict}" }
        [[verifier.collect]]
        command = "cp out.txt /logs/artifacts/"
        [agent]
        timeout_sec = 90.0
        [environment]
        docker_image = "example/image:1"
        allow_internet = false
        memory = "1G"
        workdir = "/srv"
        """, {"tests/test.sh": "echo 1 > /logs/verifier/reward.txt\n", "solution/solve.sh": "echo hi > out.txt\n",
              "solution/data/extra.txt": "x\n", "solution/wrong-1.sh": "echo no > out.txt\n"})
    (folder / "instruction.md").write_text("<!-- harbor-canary GUID 1234 -->\n\nDo the thing.\n")
    task = read_task(folder)
    spec = harbor_spec_of(task)
    assert (task.id, task.prompt, task.difficulty, task.data["category"]) == ("acme/t", "Do the thing.", 3, "data")
    assert (spec.environment, spec.docker_image, spec.network, spec.memory_mb, spec.workdir) == (
        "image", "example/image:1", "no-network", 1024, "/srv")
    assert (spec.verifier_mode, spec.verifier_timeout_s, spec.agent_timeout_s) == ("shared", 12.0, 90.0)
    assert spec.verifier_env == {"MODE": "${SELFGYM_TEST_MODE:-strict}"}  # resolved when played, from the host
    assert [hook.command for hook in spec.collect] == ["cp out.txt /logs/artifacts/"]
    # the oracle gets the solution's own files in /solution, as Harbor's oracle agent does
    solve, submit = task.data["solution"]
    assert submit == "submit" and "/solution/data/extra.txt" in solve and "wrong-1" not in solve
    assert wrong_attempts(folder) == [["echo no > out.txt\n", "submit"]]


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "instruction.md").unlink(), "instruction.md"),
    (lambda d: (d / "task.toml").write_text("schema_version = \n"), "not valid TOML"),
    (lambda d: (d / "task.toml").write_text('schema_version = "1.4"\n[[steps]]\nname = "one"\n'),
     "instruction of step 'one'"),  # a step needs steps/one/instruction.md
    (lambda d: (d / "task.toml").write_text('[environment]\nos = "windows"\n'), "Linux containers only"),
    (lambda d: (d / "task.toml").write_text('[environment]\ngpus = 1\n'), "GPUs"),
    (lambda d: (d / "task.toml").write_text('[environment]\nmemory_mb = "lots"\n'), "memory_mb"),
    (lambda d: (d / "environment/Dockerfile").unlink(), "no environment"),
    (lambda d: (d / "tests/test.sh").unlink(), "tests/test.sh"),
    (lambda d: (d / "task.toml").write_text('[metadata.selfgym]\nenvironment = "sandbox"\n'), "template"),
    (lambda d: (d / "task.toml").write_text('[metadata.selfgym]\nlevel = 7\n'), "level"),
    (lambda d: (d / "task.toml").write_text('[[verifier.collect]]\ncommand = "x"\nservice = "db"\n'), "compose"),
])
def test_a_broken_directory_is_an_error_naming_what_is_wrong(tmp_path, change, message):
    folder = make_task(tmp_path, "t", 'schema_version = "1.4"\n',
                       {"environment/Dockerfile": "FROM x\n", "tests/test.sh": "true\n"})
    read_task(folder)  # valid before the change
    change(folder)
    with pytest.raises(TaskDirError, match=message):
        read_task(folder)


def test_compose_environments_are_refused_and_a_folder_without_tasks_too(tmp_path):
    folder = make_task(tmp_path, "t", "", {"environment/docker-compose.yaml": "services: {}\n",
                                           "tests/test.sh": "true\n"})
    with pytest.raises(TaskDirError, match="docker compose"):
        read_task(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskDirError, match="no task directories"):
        read_tasks(tmp_path / "empty")


def test_a_sandbox_task_whose_dockerfile_was_edited_is_refused_not_silently_played(tmp_path):
    folder = sandbox_task(tmp_path, "t", "", tests={"test.sh": "true\n"})
    read_task(folder)
    dockerfile = folder / "environment/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN apt-get install -y cowsay\n")
    with pytest.raises(TaskDirError, match="not selfgym's sandbox template"):
        read_task(folder)


def test_reward_files_are_read_as_harbor_reads_them_and_nothing_else_passes():
    assert parse_rewards(b'{"reward": 0.5, "style": 1}', b"0") == {"reward": 0.5, "style": 1.0}
    assert parse_rewards(None, b" 1\n") == {"reward": 1.0}
    assert scalar_reward({"reward": 0.25, "x": 1.0}) == 0.25
    assert scalar_reward({"only": 0.75}) == 0.75
    assert scalar_reward({"a": 1.0, "b": 0.0}) == 0.5
    for json_bytes, text_bytes, message in [
        (None, None, "neither"), (b"", None, "empty"), (None, b"\n", "empty"), (b"[1]", None, "object"),
        (b"{}", None, "non-empty"), (b'{"reward": "1"}', None, "finite number"), (b'{"reward": true}', None, "finite"),
        (b'{"reward": NaN}', None, "finite"), (b'{"reward": 1e999}', None, "finite"), (b"{", None, "valid JSON"),
        (None, b"passed", "not a number"), (None, b"inf", "finite"), (b"\xff\xfe", None, "valid JSON"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_rewards(json_bytes, text_bytes)


def test_artifacts_from_a_sandbox_keep_regular_files_only():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        def add(name: str, data: bytes = b"x", **fields) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data) if fields.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
            for key, value in fields.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if info.size else None)
        add("logs/artifacts/ok.txt", b"fine", mode=0o4755)
        add("../escape.txt")
        add("/abs/olute.txt", b"abs")
        add("logs/artifacts/link", type=tarfile.SYMTYPE, linkname="/tmp/.harbor/verifier/reward.txt")
        add("logs/artifacts/dev", type=tarfile.CHRTYPE)
        add("work/big.bin", b"y" * 5000)
    files = files_of_tar(buffer.getvalue() + b"garbage", max_total=4000)
    assert files == {"/logs/artifacts/ok.txt": (b"fine", 0o755), "/abs/olute.txt": (b"abs", 0o644)}
    assert files_of_tar(b"not a tar at all", max_total=100) == {}


# --- tasks written by hand, played -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image_tasks(tmp_path_factory, sandbox_image):
    """Tasks with environments of their own, built FROM the local sandbox image (so they build offline)."""
    root = tmp_path_factory.mktemp("harbor-image-tasks")
    make_task(root, "hello", """
        schema_version = "1.4"
        [verifier]
        timeout_sec = 30.0
        [agent]
        timeout_sec = 120.0
        [environment]
        allow_internet = false
        cpus = 1
        memory_mb = 256
        """, {
        "environment/Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\n"
                                  "COPY greeting.txt /app/greeting.txt\nRUN echo built > /app/built.txt\n",
        "environment/greeting.txt": "hello harbor\n",
        "tests/test.sh": """
            #!/bin/bash
            if [ "$(cat /app/out.txt)" = "HELLO HARBOR" ] && [ "$PWD" = /app ]; then echo 1; else echo 0; fi \\
                > /logs/verifier/reward.txt
            """,
        "solution/solve.sh": "tr a-z A-Z < greeting.txt > out.txt\n",
        "solution/wrong-1.sh": "cp greeting.txt out.txt\n",
    })
    make_task(root, "separate", """
        schema_version = "1.4"
        artifacts = ["/app/result.txt"]
        [verifier]
        environment_mode = "separate"
        [environment]
        network_mode = "no-network"
        """, {
        "environment/Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\nRUN echo seed > /app/seed.txt\n",
        "tests/Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\nCOPY test.sh /tests/test.sh\n",
        "tests/test.sh": """
            #!/bin/bash
            r=0; [ "$(cat /app/result.txt)" = 42 ] && r=1
            [ "$(cat /logs/artifacts/note.txt)" = noted ] && n=1 || n=0
            [ -e /app/other.txt ] && o=1 || o=0
            [ -e /app/seed.txt ] && s=1 || s=0
            pgrep -f 'sleep 7777' > /dev/null && b=1 || b=0
            printf '{"reward": %d, "note": %d, "other_file": %d, "seed": %d, "agent_process": %d}' \\
                "$r" "$n" "$o" "$s" "$b" > /logs/verifier/reward.json
            """,
    })
    make_task(root, "offline-base", 'schema_version = "1.4"\n', {
        "environment/Dockerfile": "FROM selfgym-test/no-such-base:1\nWORKDIR /app\n",
        "tests/test.sh": "#!/bin/bash\necho 1 > /logs/verifier/reward.txt\n",
    })
    compose = ("services:\n  client:\n    build:\n      context: .\n    environment:\n"
               "      - TEST_DIR=${T_BENCH_TEST_DIR}\n      - GREETING=hello\n")
    terminal_bench_task(root, "tbench-hello", compose, {
        "Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\n",
        "solution.sh": 'echo "$GREETING" > /app/hello.txt\n',
    })
    return root


def terminal_bench_task(root: Path, name: str, compose: str, files: dict[str, str] | None = None) -> Path:
    """A terminal-bench task directory (task.yaml, docker-compose.yaml, run-tests.sh, solution.sh, tests/) whose
    task is writing hello to /app/hello.txt; ``files`` adds or replaces files."""
    folder = root / name
    for relative, text in {
        "task.yaml": "instruction: Write hello to /app/hello.txt.\ndifficulty: easy\ncategory: files\n"
                     "max_agent_timeout_sec: 100\nmax_test_timeout_sec: 30\n",
        "docker-compose.yaml": compose,
        "run-tests.sh": "#!/bin/bash\ncd /app\npython3 -m pytest -q -p no:cacheprovider $TEST_DIR/test_outputs.py\n",
        "solution.sh": "echo hello > /app/hello.txt\n",
        "tests/test_outputs.py": "def test_hello():\n    assert open('/app/hello.txt').read() == 'hello\\n'\n",
        **(files or {}),
    }.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


@docker
def test_a_task_with_its_own_image_is_built_and_played_in_its_working_directory(make_env, image_tasks):
    env = make_env(limits=Limits(network=True))
    folder = image_tasks / "hello"
    observation, _ = env.reset(options={"task": read_task(folder)})
    assert "in /app (no network)" in observation
    assert env.step("pwd; cat built.txt")[0] == "/app\nbuilt\n[exit code 0]"
    assert "[exit code 1]" in env.step("grep -q eth0 /proc/net/dev")[0]  # allow_internet = false wins
    sandbox = env._harbor.sandbox
    assert (sandbox.limits.memory_mb, sandbox.limits.network, sandbox.limits.read_only_root) == (256, False, False)
    assert play(env, folder, read_task(folder).data["solution"])[:2] == (1.0, True)
    for attempt in wrong_attempts(folder):
        assert play(env, folder, attempt)[:2] == (0.0, True)


@docker
def test_separate_mode_verifies_in_a_fresh_environment_given_only_the_artifacts(make_env, image_tasks):
    env = make_env()
    reward, terminated, info = play(env, image_tasks / "separate", [
        "echo 42 > result.txt; echo noted > /logs/artifacts/note.txt; echo x > other.txt; rm seed.txt",
        "nohup sleep 7777 > /dev/null 2>&1 &",
        "submit",
    ])
    # the tests ran in their own image (tests/Dockerfile, which bundles them), which got the artifacts and nothing
    # else of the agent's environment: neither its other files nor its processes
    assert (reward, terminated) == (1.0, True), info["check_output"]
    assert info["rewards"] == {"reward": 1.0, "note": 1.0, "other_file": 0.0, "seed": 0.0, "agent_process": 0.0}


@docker
def test_a_base_image_that_cannot_be_had_offline_is_an_error_unless_a_stand_in_is_declared(
        make_env, image_tasks, sandbox_image):
    task = read_task(image_tasks / "offline-base")
    with pytest.raises(TaskImageError, match=r"selfgym-test/no-such-base:1(?s:.*)base_images="):
        make_env().reset(options={"task": task})
    env = make_env(base_images={"selfgym-test/no-such-base:1": sandbox_image})
    env.reset(options={"task": task})
    assert env.step("submit")[1] == 1.0


@docker
def test_terminal_bench_layout_is_played_as_harbor_task_migrate_would_convert_it(make_env, image_tasks):
    folder = image_tasks / "tbench-hello"
    task = read_task(folder)
    assert harbor_spec_of(task).agent_timeout_s == 100 and task.difficulty == 1
    env = make_env()
    reward, _, info = play(env, folder, task.data["solution"])
    assert reward == 1.0, info["check_output"]
    reward, _, info = play(env, folder, ["echo hi > /app/hello.txt", "submit"])
    assert reward == 0.0 and "1 failed" in info["check_output"]


@pytest.fixture(scope="module")
def sandbox_tasks(tmp_path_factory):
    """Tasks on selfgym's pooled sandbox (the declared template)."""
    root = tmp_path_factory.mktemp("harbor-sandbox-tasks")
    sandbox_task(root, "partial", "[verifier]\ntimeout_sec = 20.0\n", setup="echo ready > ready.txt\n", tests={
        "test.sh": """
            #!/bin/bash
            a=0; b=0; [ -f a.txt ] && a=1; [ -f b.txt ] && b=1
            python3 -I -c 'import json, sys; a, b = map(int, sys.argv[1:]); json.dump({"a": a, "b": b}, \\
                open("/logs/verifier/reward.json", "w"))' "$a" "$b"
            """})
    sandbox_task(root, "separate", '[verifier]\nenvironment_mode = "separate"\n[environment]\n'
                 'network_mode = "no-network"\n', setup="echo original > data.txt\n", tests={"test.sh": """
            #!/bin/bash
            [ "$(cat data.txt)" = original ] && [ ! -e scratch.txt ] && \\
                [ "$(cat /logs/artifacts/answer.txt)" = 7 ] && r=1 || r=0
            echo $r > /logs/verifier/reward.txt
            """})
    sandbox_task(root, "slow-tests", "[verifier]\ntimeout_sec = 1.0\n", tests={
        "test.sh": "#!/bin/bash\nsleep 30\necho 1 > /logs/verifier/reward.txt\n"})
    sandbox_task(root, "agent-time", "[agent]\ntimeout_sec = 2.0\n", tests={
        "test.sh": "#!/bin/bash\n[ -f done.txt ] && echo 1 > /logs/verifier/reward.txt || echo 0 > "
                   "/logs/verifier/reward.txt\n"})
    sandbox_task(root, "no-reward", "", tests={"test.sh": "#!/bin/bash\nexit 0\n"})
    sandbox_task(root, "watched", "", keep_background=True, tests={
        "test.sh": "#!/bin/bash\nsleep 1\necho 0 > /logs/verifier/reward.txt\n", "key.txt": "the answer key\n"})
    sandbox_task(root, "python-in-tests", "", tests={"test.sh": """
        #!/bin/bash
        python3 -c 'import json' && [ ! -e /logs/verifier/reward.txt ] && echo 0 > /logs/verifier/reward.txt
        """})
    return root


@docker
def test_reward_json_gives_every_reward_and_the_episode_their_mean(make_env, sandbox_tasks):
    env = make_env()
    reward, terminated, info = play(env, sandbox_tasks / "partial", ["cat ready.txt; touch a.txt", "submit"])
    assert (reward, terminated, info["rewards"], info["passed"]) == (0.5, True, {"a": 1.0, "b": 0.0}, False)
    reward, _, info = play(env, sandbox_tasks / "partial", ["touch a.txt b.txt", "submit"])
    assert (reward, info["passed"]) == (1.0, True)


@docker
def test_separate_mode_on_the_sandbox_sets_the_environment_up_again(make_env, sandbox_tasks):
    env = make_env()
    actions = ["echo changed > data.txt; echo junk > scratch.txt; echo 7 > /logs/artifacts/answer.txt", "submit"]
    assert play(env, sandbox_tasks / "separate", actions)[0] == 1.0
    assert play(env, sandbox_tasks / "separate", ["echo 8 > /logs/artifacts/answer.txt", "submit"])[0] == 0.0


@docker
def test_timeouts_of_the_verifier_and_of_the_agent(make_env, sandbox_tasks):
    env = make_env()
    reward, terminated, info = play(env, sandbox_tasks / "slow-tests", ["submit"])
    assert (reward, terminated) == (0.0, True) and "timed out after 1 s" in info["verifier_error"]
    env.reset(options={"task": read_task(sandbox_tasks / "agent-time")})
    assert env.step("touch done.txt")[1:3] == (0.0, False)
    observation, reward, terminated, truncated, info = env.step("sleep 30")
    # the agent's time ran out in the command: it was stopped, and its work judged as it was (as Harbor does)
    assert (reward, terminated, truncated, info["agent_timed_out"]) == (1.0, True, False, True)
    assert "time for the agent is up" in observation and info["timed_out"] is True


@docker
def test_tests_that_write_no_reward_fail_and_a_reward_the_agent_left_is_not_read(make_env, sandbox_tasks):
    env = make_env()
    planted = ["echo 1 > /logs/verifier/reward.txt; echo '{\"reward\": 1}' > /logs/verifier/reward.json", "submit"]
    reward, _, info = play(env, sandbox_tasks / "no-reward", planted)
    assert reward == 0.0 and "neither" in info["verifier_error"]


@docker
def test_python_in_the_tests_does_not_load_what_the_agent_planted_in_its_home(make_env, sandbox_tasks):
    site = "/work/.local/lib/python3.11/site-packages"
    plant = (f"mkdir -p {site} && printf 'open(\"/logs/verifier/reward.txt\", \"w\").write(\"1\")\\n' > "
             f"{site}/usercustomize.py && python3 -c 'import site; print(site.ENABLE_USER_SITE)'")
    env = make_env()
    env.reset(options={"task": read_task(sandbox_tasks / "python-in-tests")})
    assert "True" in env.step(plant)[0]  # the agent's own Python does load it
    assert env.step("submit")[1] == 0.0


@docker
def test_git_checks_never_run_the_agents_git_configuration(make_env):
    task = load_task_file(shipped_tasks_dir() / "git-006")[0]
    hook = "echo 1 > /logs/verifier/reward.txt; touch /tmp/pwned; false"
    env = make_env()
    env.reset(options={"task": task})
    env.step(f"cd web && git config core.fsmonitor '{hook}' && git config --global core.fsmonitor '{hook}' "
             f"&& git config --global alias.status '!{hook}' && echo '*.log' >> .gitignore")
    _, reward, terminated, _, _ = env.step("submit")
    assert (reward, terminated) == (0.0, True)
    assert env._harbor.sandbox.run("test -e /tmp/pwned").exit_code == 1


@docker
def test_the_agents_background_processes_can_neither_read_the_tests_nor_forge_the_reward(make_env, sandbox_tasks):
    spy = ("while :; do cat /tests/key.txt /tmp/.harbor/tests/key.txt >> /work/leak 2>/dev/null; "
           "echo 1 > /logs/verifier/reward.txt; echo 1 > /tmp/.harbor/verifier/reward.txt; sleep 0.02; done")
    env = make_env()
    env.reset(options={"task": read_task(sandbox_tasks / "watched")})
    env.step(f"nohup bash -c '{spy}' > /dev/null 2>&1 &")
    _, reward, terminated, _, info = env.step("submit")  # the tests take a second, while the spy keeps trying
    assert (reward, terminated, info["verifier_error"]) == (0.0, True, None)
    assert env._harbor.sandbox.read_file("/work/leak") == b""


@docker
def test_the_agent_cannot_read_the_tests_or_take_the_verifiers_folders(make_env, sandbox_tasks):
    env = make_env()
    env.reset(options={"task": read_task(sandbox_tasks / "no-reward")})
    observation = env.step("rm -rf /tmp/.harbor; mkdir -p /tmp/.harbor/verifier; ls -ld /tmp/.harbor")[0]
    assert "Permission denied" in observation or "Operation not permitted" in observation
    assert "[exit code 0]" not in env.step("echo 1 > /logs/verifier/reward.txt")[0]
    assert env.step("submit")[1] == 0.0


# --- export and import -----------------------------------------------------------------------------------------

INLINE = """
- id: shell/rt-answer
  difficulty: 1
  category: files
  prompt: How many files are in /work/box? Answer with `submit <number>`.
  setup: mkdir box && touch box/a box/b box/c
  check: '[ "$SELFGYM_ANSWER" = 3 ]'
  solution: [ls box | wc -l, submit 3]
- id: shell/rt-process
  difficulty: 2
  category: processes
  keep_background: true
  prompt: Stop the process running /work/spin.sh.
  setup: |
    printf 'while :; do sleep 1; done\\n' > spin.sh
    nohup bash /work/spin.sh > /dev/null 2>&1 &
  check: '[ -z "$(pgrep -f "[s]pin\\\\.sh")" ]'
  solution: [pkill -f spin.sh, submit]
"""
INLINE_WRONG = {"shell/rt-answer": [["submit 3 4"], ["submit 4"]], "shell/rt-process": [["pkill -f nothing"]]}


@docker
def test_export_then_import_keeps_every_reward(make_env, tmp_path):
    source = tmp_path / "inline.yaml"
    source.write_text(INLINE)
    inline = load_task_file(source)
    exported = tmp_path / "exported"
    for task in inline:
        write_task(task, exported, wrong=[[*attempt, "submit"] for attempt in INLINE_WRONG[task.id]])
    imported = {task.id: task for task in read_tasks(exported)}
    assert set(imported) == {"shell/rt-answer", "shell/rt-process"}
    assert "/work/answer.txt" in imported["shell/rt-answer"].prompt  # Harbor agents answer in a file
    env = make_env()
    for task in inline:
        harbor = imported[task.id]
        attempts = [(list(task.data["solution"]), 1.0)] + [([*a, "submit"], 0.0) for a in INLINE_WRONG[task.id]]
        for actions, expected in attempts:
            for variant in (task, harbor):
                env.reset(options={"task": variant})
                for action in actions:
                    _, reward, terminated, _, _ = env.step(action)
                    if terminated:
                        break
                assert reward == expected, (variant.id, "harbor" if variant is harbor else "inline", actions)
        # the exported reference solution (one script) earns 1 too, and so does the agent writing the file
        env.reset(options={"task": harbor})
        for action in harbor.data["solution"]:
            reward = env.step(action)[1]
        assert reward == 1.0


def test_tasks_export_command(tmp_path):
    source = tmp_path / "inline.yaml"
    source.write_text(INLINE)
    result = CliRunner().invoke(cli, ["tasks", "export", str(tmp_path / "out"), "--from", str(source)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rt-answer", "rt-process"]
    again = CliRunner().invoke(cli, ["tasks", "export", str(tmp_path / "out"), "--from", str(source)])
    assert again.exit_code == 2 and "exists already" in again.output
    shipped = CliRunner().invoke(cli, ["tasks", "export", str(tmp_path / "git"), "--ids", "shell/git-*"])
    assert shipped.exit_code == 0 and len(list((tmp_path / "git").iterdir())) == 15


def harbor_python() -> str | None:
    """A Python with the ``harbor`` package: $SELFGYM_HARBOR_PYTHON, else .venv-harbor at the repository root."""
    for candidate in (os.environ.get("SELFGYM_HARBOR_PYTHON"), str(REPO / ".venv-harbor/bin/python")):
        if candidate and shutil.which(candidate):
            return candidate
    return None


HARBOR_READS = """
import json, sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from harbor.models.task.task import Task
from harbor.models.task.verifier_mode import resolve_task_verifier_mode
seen = {}
for folder in sorted(Path(sys.argv[1]).iterdir()):
    try:
        task = Task(folder)
        env = task.config.environment
        seen[folder.name] = [task.name, resolve_task_verifier_mode(task.config).value, env.network_mode.value,
                             env.healthcheck is not None, bool(task.instruction.strip())]
    except Exception as exc:
        seen[folder.name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(seen))
"""


def test_harbors_own_parser_reads_every_exported_directory_as_selfgym_does(tmp_path, image_tasks, sandbox_tasks):
    python = harbor_python()
    if python is None:
        pytest.skip("no Python with harbor: make one with Python >= 3.12 (`python3.12 -m venv .venv-harbor && "
                    ".venv-harbor/bin/pip install harbor`) or set SELFGYM_HARBOR_PYTHON")
    folders = tmp_path / "all"
    export_tasks(load_task_file(shipped_tasks_dir()), folders)
    source = tmp_path / "inline.yaml"
    source.write_text(INLINE)
    export_tasks(load_task_file(source), folders)
    for root in (image_tasks, sandbox_tasks):
        for folder in root.iterdir():
            if (folder / "task.toml").is_file():
                shutil.copytree(folder, folders / f"{root.name}-{folder.name}")
    result = subprocess.run([python, "-c", HARBOR_READS, str(folders)], capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert len(seen) == len(list(folders.iterdir())) >= 124 + 2
    for name, view in seen.items():
        assert isinstance(view, list), f"harbor cannot read {name}: {view}"
        ours = read_task(folders / name)
        spec = harbor_spec_of(ours)
        assert view == [ours.id, spec.verifier_mode, spec.network, spec.healthcheck is not None, True], name
