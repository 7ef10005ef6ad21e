"""Writing shell tasks as Harbor task directories (``selfgym tasks export --format harbor``).

A task written inline (``setup``/``check``/``solution``, see :mod:`selfgym.envs.shell.spec`) becomes::

    task.toml               [metadata.selfgym] environment = "sandbox": selfgym plays it in its pooled sandbox
    instruction.md          the prompt
    environment/Dockerfile  selfgym's sandbox template (:mod:`.template`), which Harbor builds
    environment/setup.sh    the task's setup
    tests/test.sh           runs tests/check.sh with bash -e in /work: reward 1 if it exits 0, else 0
    tests/check.sh          the task's check
    solution/solve.sh       the reference actions as one script
    solution/wrong-N.sh     plausible wrong attempts (selfgym's tests play them; they must earn 0)

A task that takes ``submit <answer>`` (its check reads ``$SELFGYM_ANSWER``) is asked for its answer in
``/work/answer.txt`` instead, which Harbor agents can write; the test script reads it into ``$SELFGYM_ANSWER``,
and in selfgym ``submit <answer>`` still works (it writes the file). A task read from a Harbor directory is
copied as it is. (Code-v0 problems are not exported: their tests run the agent's code, which a Harbor verifier
would run with its own rights; see README.)
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import tomli_w

from ..harbor.spec import harbor_spec_of
from ..harbor.template import READY_MARKER, SETUP_FILE, sandbox_dockerfile
from ..task import Task
from .spec import parse_submit

ANSWER_FILE = "/work/answer.txt"
ANSWER_NOTE = (f"Write your answer, and nothing else, to {ANSWER_FILE} (in selfgym, `submit <answer>` does that "
               "for you).")
DIFFICULTY_WORDS = {0: "easy", 1: "easy", 2: "medium", 3: "hard"}
_NAME = re.compile(r"[^A-Za-z0-9._-]+")

TEST_SCRIPT = """#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.{helpers}{answer}
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
"""
ANSWER_LINES = f"""

# The task's answer: what the agent wrote to {ANSWER_FILE} (at most 64 KiB; trailing newlines dropped), read with
# the agent's rights (a link it planted leads nowhere the agent could not read itself)
export SELFGYM_ANSWER="$(as_agent head -c 65536 {ANSWER_FILE} 2>/dev/null)\""""


# For checks written for selfgym's Shell-v0, which run the agent's programs with `as_agent CMD...`: selfgym's verifier
# provides it (the command runs as the agent); elsewhere (Harbor runs everything as one user) it runs CMD itself.
AS_AGENT_HELPER = r"""

# as_agent CMD ARGS...: run CMD as the agent (selfgym's verifier provides it; elsewhere CMD runs as is)
if ! type as_agent > /dev/null 2>&1; then as_agent() { "$@"; }; fi
export -f as_agent"""

# For checks that read git repositories (`vgit REPO ARGS...`): selfgym's verifier provides a git that reads a snapshot
# of the repository's data and runs nothing the agent configured (selfgym.sandbox.vgit); elsewhere it is plain git.
GIT_HELPER = r"""

# vgit REPO ARGS...: git on REPO (selfgym's verifier provides one that runs nothing the agent configured)
if ! type vgit > /dev/null 2>&1; then vgit() { local repo=$1; shift; git -C "$repo" "$@"; }; fi
export -f vgit"""

# For checks that look for processes (`vpgrep [-o] PROGRAM CMDLINE`): selfgym's verifier provides one that also checks
# the program that runs and, with -o, that the task's setup started it; elsewhere it is pgrep.
PROCESS_HELPER = r"""

# vpgrep [-o] PROGRAM CMDLINE: pids of processes whose command line matches CMDLINE (selfgym's verifier provides one
# that also checks which program runs and, with -o, that the task's setup started them)
if ! type vpgrep > /dev/null 2>&1; then vpgrep() { [ "$1" != -o ] || shift; pgrep -f "$2"; }; fi
export -f vpgrep"""


def test_script(check: str, *, takes_answer: bool) -> str:
    """``tests/test.sh`` of an exported task whose ``tests/check.sh`` is ``check``."""
    wanted = (("as_agent", AS_AGENT_HELPER, takes_answer), ("vgit ", GIT_HELPER, False),
              ("vpgrep ", PROCESS_HELPER, False))
    helpers = "".join(helper for word, helper, always in wanted if always or word in check)
    return TEST_SCRIPT.format(answer=ANSWER_LINES if takes_answer else "", helpers=helpers)


def takes_answer(check: str) -> bool:
    """Whether a check reads the answer of ``submit <answer>``."""
    return "SELFGYM_ANSWER" in check


def dir_name(task_id: str, family: str = "shell") -> str:
    """The directory a task is written to: its id without the family prefix, made safe for a path."""
    name = task_id[len(family) + 1:] if task_id.startswith(family + "/") else task_id
    return _NAME.sub("-", name).strip("-.") or "task"


def package_name(task_id: str) -> str:
    """Harbor's ``[task] name`` (``org/name``) for a task id."""
    org, _, rest = task_id.partition("/")
    if rest:
        return f"{_NAME.sub('-', org).strip('-.') or 'selfgym'}/{_NAME.sub('-', rest).strip('-.') or 'task'}"
    return f"selfgym/{_NAME.sub('-', task_id).strip('-.') or 'task'}"


def solve_script(actions: Sequence[str], *, answer_file: str | None,
                 header: str = "The reference solution: selfgym's reference actions, in order.") -> str:
    """Actions as one script: the commands in order, then the answer of a final ``submit X``."""
    lines = ["#!/bin/bash", f"# {header}"]
    for action in actions:
        answer = parse_submit(action)
        if answer is None:
            lines.append(action.rstrip("\n"))
        elif answer and answer_file is not None:
            lines.append(f"printf '%s' {shlex.quote(answer)} > {answer_file}")
    return "\n".join(lines) + "\n"


def write_task(task: Task, dest: Path, *, wrong: Iterable[Sequence[str]] = (), collect: Sequence[str] = (),
               verifier_timeout_s: float = 60.0, agent_timeout_s: float = 600.0) -> Path:
    """Write ``task`` as a Harbor directory under ``dest`` (created); returns its path.

    ``wrong``: attempts (actions) that must earn 0, written as ``solution/wrong-N.sh``. ``collect``: commands
    Harbor's verifier runs in the agent's container, as the agent, before the tests (``[[verifier.collect]]``):
    the way to run code the agent wrote, whose output the tests then read, without running it as the verifier.
    """
    data = task.data
    harbor = harbor_spec_of(task)
    target = dest / dir_name(task.id, task.family)
    if target.exists():
        raise FileExistsError(f"{target} exists already; export into an empty folder")
    if harbor is not None:
        shutil.copytree(harbor.dir, target, symlinks=True)
        return target
    keep_background = bool(data.get("keep_background", False))
    answer_file = ANSWER_FILE if takes_answer(data["check"]) else None
    instruction = task.prompt.strip()
    if answer_file is not None and answer_file not in instruction:
        instruction += "\n\n" + ANSWER_NOTE
    level = int(task.difficulty)
    ours = {"environment": "sandbox", "keep_background": keep_background, "level": level}
    if answer_file is not None:
        ours["answer_file"] = answer_file
        answer = parse_submit(data["solution"][-1])
        if answer:  # the reference actions end with `submit <answer>` (a fixed answer)
            ours["answer"] = answer
    environment = {"build_timeout_sec": 600.0, "network_mode": "no-network", "cpus": 1, "memory_mb": 512}
    if keep_background:  # the template then runs setup.sh when the container starts: wait for it
        environment["healthcheck"] = {"command": f"test -e {READY_MARKER}", "interval_sec": 0.5,
                                      "start_interval_sec": 0.5, "timeout_sec": 5.0, "retries": 120}
    verifier: dict = {"timeout_sec": float(verifier_timeout_s)}
    if collect:
        verifier["collect"] = [{"command": command, "timeout_sec": 60.0} for command in collect]
    config = {
        "schema_version": "1.4",
        "task": {"name": package_name(task.id), "keywords": ["selfgym", task.family, data["category"]]},
        "metadata": {"category": data["category"], "difficulty": DIFFICULTY_WORDS.get(level, "medium"),
                     "tags": ["selfgym", task.family, data["category"]], "selfgym": ours},
        "verifier": verifier,
        "agent": {"timeout_sec": float(agent_timeout_s)},
        "environment": environment,
    }
    files = {
        "task.toml": tomli_w.dumps(config, multiline_strings=True),
        "instruction.md": instruction + "\n",
        "environment/Dockerfile": sandbox_dockerfile(setup_at_start=keep_background),
        f"environment/{SETUP_FILE}": _script(data.get("setup", "")),
        "tests/test.sh": test_script(data["check"], takes_answer=answer_file is not None),
        "tests/check.sh": _script(data["check"]),
        "solution/solve.sh": solve_script(data["solution"], answer_file=answer_file),
    }
    for number, attempt in enumerate(wrong, start=1):
        files[f"solution/wrong-{number}.sh"] = solve_script(
            attempt, answer_file=answer_file, header="A plausible wrong attempt: it must earn reward 0.")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if relative.endswith(".sh"):
            path.chmod(0o755)
    return target


def export_tasks(tasks: Iterable[Task], dest: str | Path) -> list[Path]:
    """Write every task under ``dest`` (see :func:`write_task`); returns the directories written."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return [write_task(task, dest) for task in tasks]


def _script(text: str) -> str:
    text = text if text.endswith("\n") or not text else text + "\n"
    return text
