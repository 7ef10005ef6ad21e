"""Check scripts: bash that judges a sandbox's final state, run where the agent's processes cannot touch it.

A check (a Shell-v0 task's ``check``, a Harbor task's test script) runs under the verifier's uid
(:data:`~selfgym.sandbox.sandbox.VERIFIER_UID`): the agent's processes, which may still be running, cannot trace,
signal or read it, nor reach the pipes of its command substitutions. Its script and variables travel in its
environment, which only that uid can read (a command line is world-readable).

What a check must not do is *run* anything the agent controls under that uid: the agent's programs, or tools that
execute code found in the data they read (git runs hooks, ``core.fsmonitor`` and filters from the repository's
config; make runs the Makefile; pytest imports conftest.py). Code of the agent's running as the verifier could
tamper with the check itself. For those a check calls ``as_agent COMMAND [ARGS...]``: the command runs under the
agent's uid (in the check's current directory, output and exit code passed through), and the check judges what
it printed. :func:`lint_check` refuses scripts that call such tools directly. Two more helpers read the agent's
state as data: ``vgit REPO ARGS...`` runs git on a snapshot of a repository's data that holds nothing the agent
configured (:mod:`selfgym.sandbox.vgit`), and ``vpgrep [-o] PROGRAM CMDLINE`` finds processes by the program that
runs, with ``-o`` only those the task's setup started (:func:`mark_agent_start` notes when the agent took over). The verifier's environment is also
kept free of the agent's influence: ``HOME=/`` (no dot-files of the agent's), ``PYTHONSAFEPATH=1`` (``python3 -c``
does not import from the current directory), git's system and global config off.

The agent's side of ``as_agent`` is a small runner (the subject of :meth:`Sandbox.run_judged`); where the agent
keeps processes running during the check (``keep_background`` tasks), those may tamper with what ``as_agent``
commands print, so such checks should read state directly (``/proc``, files) rather than through ``as_agent``.
"""

from __future__ import annotations

import re
from pathlib import Path

# The agent's side: runs each requested command as the agent's uid, one at a time. Standard library only.
RUNNER = r'''
import base64, json, os, subprocess, sys
CAP = 8 * 1024 * 1024
out = os.fdopen(os.dup(1), "wb", buffering=0)
inp = os.fdopen(os.dup(0), "rb", buffering=0)
devnull = os.open(os.devnull, os.O_RDWR)
os.dup2(devnull, 0)
os.dup2(devnull, 1)
for line in iter(inp.readline, b""):
    try:
        request = json.loads(line)
        done = subprocess.run(request["argv"], cwd=request.get("cwd") or "/work", capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=float(request.get("timeout") or 60))
        reply = {"exit_code": done.returncode if done.returncode >= 0 else 128 - done.returncode,
                 "stdout": base64.b64encode(done.stdout[:CAP]).decode(),
                 "stderr": base64.b64encode(done.stderr[-CAP:]).decode()}
    except subprocess.TimeoutExpired:
        reply = {"exit_code": 124, "stdout": "", "stderr": base64.b64encode(b"as_agent: timed out\n").decode()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reply = {"exit_code": 127, "stdout": "",
                 "stderr": base64.b64encode(("as_agent: %s\n" % exc).encode()).decode()}
    out.write((json.dumps(reply) + "\n").encode())
'''

# The verifier's side: `as_agent CMD ARGS...` in a check. Bounded, validated reading of the runner's reply.
CLIENT = r'''
import base64, binascii, fcntl, json, os, sys
MAX = 24 * 1024 * 1024
read_fd, write_fd = (int(fd) for fd in os.environ["SELFGYM_SUBJECT_FDS"].split(","))
lock = os.open(os.environ["SELFGYM_CHECK_LOCK"], os.O_RDONLY)
fcntl.flock(lock, fcntl.LOCK_EX)  # one request at a time on the shared pipes (as_agent a | as_agent b)
request = {"argv": sys.argv[1:], "cwd": os.getcwd(), "timeout": float(os.environ.get("SELFGYM_AS_AGENT_TIMEOUT", 60))}
os.write(write_fd, (json.dumps(request) + "\n").encode())
data = b""
while not data.endswith(b"\n"):
    chunk = os.read(read_fd, 1 << 20)
    if not chunk or len(data) > MAX:
        sys.stderr.write("as_agent: the agent's side did not answer\n")
        sys.exit(125)
    data += chunk
try:
    reply = json.loads(data)
    code, stdout, stderr = reply["exit_code"], base64.b64decode(reply["stdout"]), base64.b64decode(reply["stderr"])
    if type(code) is not int or not 0 <= code <= 255 + 128:
        raise ValueError
except (ValueError, KeyError, TypeError, binascii.Error):
    sys.stderr.write("as_agent: the agent's side answered nonsense\n")
    sys.exit(125)
sys.stdout.buffer.write(stdout)
sys.stderr.buffer.write(stderr)
sys.exit(code if code < 256 else 255)
'''

VGIT = (Path(__file__).parent / "vgit.py").read_text(encoding="utf-8")

# When the agent took over a task's sandbox, in clock ticks since boot (the unit of a process's start time in
# /proc/PID/stat): written by the verifier once the task's setup is done (mark_agent_start), read by `vpgrep -o`.
AGENT_START_FILE = "/tmp/.selfgym-agent-start"
# `set -C`: a file that is there already (the verifier's own, from an earlier mark) is never overwritten.
MARK_AGENT_START = f"set -C; read -r up _ < /proc/uptime; echo \"$up\" | tr -d . > {AGENT_START_FILE}"

# Sourced before the check's own script (it runs with bash -e). The helpers are exported: a Harbor test script, and
# the scripts it starts, have them too.
#
# vpgrep [-o] PROGRAM CMDLINE: the pids of the processes running the program PROGRAM (an ERE matched against the
# whole name of the file the process executed, /proc/PID/comm, which `exec -a NAME` does not change) whose command
# line (arguments joined by spaces) matches the ERE CMDLINE; with -o only those that were running before the agent's
# first command (the task's setup started them), which the agent can have neither started nor replaced.
PRELUDE = r"""
as_agent() { /usr/bin/python3 -I -c "$SELFGYM_AS_AGENT_CLIENT" "$@"; }
vgit() { /usr/bin/python3 -I -c "$SELFGYM_VGIT" "$@"; }
vpgrep() {
    local original= anchor= dir comm cmd stat fields
    if [ "$1" = -o ]; then
        original=1
        shift
        anchor=$(cat AGENT_START_FILE 2>/dev/null) && [ -n "$anchor" ] || { echo "vpgrep: no mark of the agent's start" >&2; return 2; }
    fi
    for dir in /proc/[0-9]*; do
        comm=$(cat "$dir/comm" 2>/dev/null) && [[ $comm =~ ^($1)$ ]] || continue
        cmd=$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null) && [[ ${cmd% } =~ $2 ]] || continue
        if [ -n "$original" ]; then
            stat=$(cat "$dir/stat" 2>/dev/null) || continue
            read -ra fields <<< "${stat##*) }"
            [ "${fields[19]}" -le "$anchor" ] 2>/dev/null || continue
        fi
        echo "${dir#/proc/}"
    done
}
export -f as_agent vgit vpgrep
SELFGYM_CHECK_LOCK=$(mktemp)
SELFGYM_VGIT_DIR=$(mktemp -d)
export SELFGYM_CHECK_LOCK SELFGYM_VGIT_DIR
unset SELFGYM_CHECK_PRELUDE
""".replace("AGENT_START_FILE", AGENT_START_FILE)

def mark_agent_start(sandbox, *, keep_background: bool) -> None:
    """Note, as the verifier, that the agent takes the sandbox over now (after the task's setup): ``vpgrep -o`` then
    tells the processes the setup started from any the agent starts, however it names them. ``ValueError`` when the
    mark cannot be made (the setup left a file in its place)."""
    result = sandbox.run(["/bin/sh", "-c", MARK_AGENT_START], timeout_s=10, keep_background=keep_background,
                         user="verifier")
    if not result.ok:
        raise ValueError(f"the verifier could not note when the agent starts ({AGENT_START_FILE}): "
                         f"{(result.stdout + result.stderr).strip()[:300]}")


VERIFIER_ENV = {
    "HOME": "/",
    "PYTHONSAFEPATH": "1",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}

# Tools that run code from what they read, and the agent's own programs: called directly they would run the agent's
# code as the verifier. Matched as a command word (start of a line or after | ; & ( ` $( and the like).
_DIRECT = re.compile(
    r"(?:^|[|;&(`]|\$\(|\b(?:then|do|else|xargs|exec|time|env|command|nohup|timeout\s+\S+))\s*"
    r"(?P<tool>(?:git|make|pytest|py\.test|npm|node|pip3?|source)\b|(?:ba)?sh\s+[^\s-]|python3?\s+[^\s-]|"
    r"(?:\./|/work/)\S)",
    re.MULTILINE,
)
_AFTER_AS_AGENT = re.compile(r"as_agent\s+$")
_CASE = re.compile(r"\bcase\b.*?\bin\b(?P<body>.*?)\besac\b", re.DOTALL)
_CASE_PATTERN = re.compile(r"^(\s*)\(?[^()\n]*\)", re.MULTILINE)  # `a | ./b) ...`: words to match, not commands


def lint_check(script: str) -> str | None:
    """Why ``script`` would run the agent's code as the verifier (a tool called without ``as_agent``), or None.

    A heuristic over the script's text (command words after ``;``, ``|``, ``&&``, ``$(``...), not a bash parser:
    it errs towards refusing; ``as_agent`` before the tool, or a full path like ``/usr/bin/git`` where the
    verifier must run it itself, passes."""
    script = _CASE.sub(lambda case: case.group(0).replace(case["body"], _CASE_PATTERN.sub(r"\1", case["body"])),
                       script)
    for match in _DIRECT.finditer(script):
        before = script[: match.start("tool")]
        if _AFTER_AS_AGENT.search(before):
            continue
        tool = script[match.start("tool"):].split()[0]
        return (f"the check calls `{tool}` directly; that would run the agent's code (or code its files configure) "
                f"under the verifier's uid. Write `as_agent {tool} ...` to run it as the agent and judge its output.")
    return None


def check_request(script: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], list[str]]:
    """The judge's argv and environment and the subject's argv of a check run (see the module docstring)."""
    judge_env = dict(VERIFIER_ENV, SELFGYM_CHECK=script, SELFGYM_CHECK_PRELUDE=PRELUDE,
                     SELFGYM_AS_AGENT_CLIENT=CLIENT, SELFGYM_VGIT=VGIT, **(env or {}))
    judge = ["/bin/bash", "-e", "-c", 'eval "$SELFGYM_CHECK_PRELUDE"; eval "$SELFGYM_CHECK"']
    return judge, judge_env, ["python3", "-I", "-c", RUNNER]


# The agent's side runs the agent's own tools, but not with every trick git has for showing other content than the
# repository holds: replace refs (``git replace``) would make ``as_agent git show`` print a forged file.
RUNNER_ENV = {"GIT_NO_REPLACE_OBJECTS": "1"}
