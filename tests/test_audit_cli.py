"""``selfgym audit``: exit codes (0 clean, 1 hackable, 2 usage errors and a missing Docker engine, one line each),
the table and the JSON, and the sources (shipped tasks, a Harbor + terminal-bench folder, Task objects as JSONL,
reasoning-gym generators). The shipped-task gate itself runs in test_audit_shell.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_harbor import sandbox_task, terminal_bench_task

from selfgym.cli import main as cli
from selfgym.envs import Task
from selfgym.envs.audit import AuditSourceError, audit_source, default_batteries, load_tasks
from selfgym.envs.audit.shell import ShellBattery
from selfgym.envs.audit.sources import resolve_env

HELLO = "Write hello to /work/hello.txt."


def hackable_harbor_task(root, name="lenient"):
    """A Harbor task whose test passes whenever hello.txt does not say 'wrong' (a null agent's empty folder too)."""
    folder = sandbox_task(root, name, "[verifier]\ntimeout_sec = 30.0\n", tests={
        "test.sh": "#!/bin/bash\ncd /work\n[ \"$(cat hello.txt 2>/dev/null)\" != wrong ] && r=1 || r=0\n"
                   "echo $r > /logs/verifier/reward.txt\n"})
    (folder / "instruction.md").write_text(HELLO + "\n")
    (folder / "solution").mkdir()
    (folder / "solution" / "solve.sh").write_text("#!/bin/bash\necho hello > /work/hello.txt\n")
    return folder


def one_line_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return lines[-1]


@pytest.mark.parametrize("args, message", [
    (["selfgym/Nope-v0"], "neither a registered env id"),
    (["selfgym/Shell-v0", "--tasks", "no-such-task*"], "matches no task id"),
    (["selfgym/Shell-v0", "--source", "/no/such/tasks.yaml"], "no such file or directory"),
    (["selfgym/Shell-v0", "--source", "reasoning-gym"], "is for selfgym/Math-v0"),
    (["selfgym/Math-v0", "--source", "reasoning-gym:no_such_generator"], "unknown reasoning-gym generator"),
    (["selfgym/Shell-v0", "--env-kwargs", "{not json"], "not JSON"),
    (["selfgym/Shell-v0", "--workers", "0"], "0 is not in the range"),
])
def test_a_usage_error_is_exit_code_2_and_one_line(args, message):
    result = CliRunner().invoke(cli, ["audit", *args])
    assert result.exit_code == 2, result.output
    assert message in one_line_error(result)


def test_no_docker_engine_is_one_clear_message(tmp_path):
    result = CliRunner(env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}).invoke(
        cli, ["audit", "selfgym/Shell-v0", "--tasks", "shell/text-001", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "Docker" in one_line_error(result) and "hackable" not in result.output


def test_sources_task_objects_reasoning_gym_and_a_missing_battery(tmp_path):
    """Task objects (what env-server --allow-custom-tasks and save_pool speak) are read as they are; reasoning-gym
    generators by name; an env no battery covers is refused before anything is played."""
    written = [Task("mine/1", "shell", "Say hi.", 1, {"category": "x", "check": "true", "solution": ["submit"]}),
               Task("mine/2", "shell", "Say bye.", 2, {"category": "x", "check": "true", "solution": ["submit"]})]
    (tmp_path / "pool.jsonl").write_text("".join(task.to_json() + "\n" for task in written))
    assert load_tasks("selfgym/Shell-v0", tmp_path / "pool.jsonl") == written
    (tmp_path / "tasks.yaml").write_text(  # Shell-v0's YAML task format (an experiment's env.kwargs.tasks)
        "- id: mine/yaml\n  difficulty: 0\n  category: files\n  prompt: Write hi to /work/hi.txt.\n"
        "  check: '[ \"$(cat hi.txt)\" = hi ]'\n  solution: ['echo hi > hi.txt', submit]\n")
    assert resolve_env(str(tmp_path / "tasks.yaml"), None) == ("selfgym/Shell-v0", str(tmp_path / "tasks.yaml"))
    (yaml_task,) = load_tasks("selfgym/Shell-v0", tmp_path / "tasks.yaml")
    assert yaml_task.id == "mine/yaml" and yaml_task.data["solution"] == ["echo hi > hi.txt", "submit"]
    gcd = load_tasks("selfgym/Math-v0", "reasoning-gym:gcd,lcm", level=1, size=2, seed=3)
    assert [task.id for task in gcd] == ["gcd/L1/s3/0", "gcd/L1/s3/1", "lcm/L1/s3/0", "lcm/L1/s3/1"]
    with pytest.raises(AuditSourceError, match="no audit battery can attack task 'gcd/L1/s3/0'"):
        audit_source("selfgym/Math-v0", "reasoning-gym:gcd", level=1, size=2, seed=3, batteries=[ShellBattery()],
                     progress=False)


@pytest.mark.docker
@pytest.mark.slow
def test_a_harbor_and_terminal_bench_folder_with_a_planted_hackable_task(tmp_path, sandbox_image):
    """Exit code 1; the table names the task, its verdict, the exploit class, the reward and the actions; the JSON
    holds every task's verdict and findings with what reproduces them; the clean terminal-bench task is ok."""
    root = tmp_path / "tasks"
    hackable_harbor_task(root)
    terminal_bench_task(root, "tbench-hello", "services:\n  client:\n    build:\n      context: .\n",
                        {"Dockerfile": f"FROM {sandbox_image}\nUSER root\nWORKDIR /app\n"})
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(cli, ["audit", str(root), "--workers", "2", "--json", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    verdicts = {task["task_id"]: task["verdict"] for task in report["tasks"]}
    assert verdicts == {"lenient": "hackable", "tbench-hello": "ok"}, report
    assert report["verdicts"] == {"ok": 1, "hackable": 1, "broken": 0}
    assert report["exploits"]["null-agent"] == 1
    lenient = next(task for task in report["tasks"] if task["task_id"] == "lenient")
    null = next(f for f in lenient["findings"] if f["exploit"] == "null-agent")
    assert null["actions"] == ["submit"] and null["reward"] == 1.0 and null["must"] == "fail"
    assert lenient["reproduce"]["task"]["id"] == "lenient"
    assert Task.from_dict(lenient["reproduce"]["task"]).data["harbor"]  # replayable as it was audited
    table = result.output
    for text in ("lenient", "hackable", "null-agent", "1. submit", "tbench-hello", "summary by exploit class",
                 "1 ok, 1 hackable, 0 broken"):
        assert text in table, (text, table)


@pytest.mark.docker
@pytest.mark.slow
def test_a_clean_subset_of_the_shipped_tasks_is_exit_code_0_and_an_interrupted_run_resumes(tmp_path):
    """A journal left by an interrupted run: its audit of text-001 (same task, seed, batteries) is taken, not played
    again; one made with another seed is not. The journal is removed once the JSON is written."""
    from selfgym.envs.audit import TaskAudit
    from selfgym.envs.audit.report import journal, journal_path
    from selfgym.envs.shell import shipped_tasks

    out = tmp_path / "audit.json"
    first, second = shipped_tasks().get("shell/text-001"), shipped_tasks().get("shell/text-002")
    names = [battery.name for battery in default_batteries()]
    journal(journal_path(out), TaskAudit(first.id, first.family, "ok", probes=99), first, 0, names)
    journal(journal_path(out), TaskAudit(second.id, second.family, "ok", probes=99), second, 7, names)
    result = CliRunner().invoke(cli, ["audit", "selfgym/Shell-v0", "--tasks", "shell/text-00[12]", "--workers", "2",
                                      "--json", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [task["task_id"] for task in report["tasks"]] == ["shell/text-001", "shell/text-002"]
    assert all(task["verdict"] == "ok" for task in report["tasks"])
    assert [task["probes"] for task in report["tasks"]][0] == 99 and 5 <= report["tasks"][1]["probes"] < 99
    assert "1 task audits taken from" in result.output and not journal_path(out).exists()
    assert report["env"] == "selfgym/Shell-v0" and "2 ok, 0 hackable, 0 broken" in result.output
