"""The Shell-v0 / Harbor battery: attacks on a terminal task's check, found through the agent's own shell.

An exploring episode lists what the agent can see as it starts (its working directory's files, the git
repositories there, the processes the setup left running, the files the instruction names), with one command
in the agent's shell, so the battery works on any task the env plays: the shipped ones, an imported Harbor or
terminal-bench directory, one a curriculum wrote. Then, each on a fresh episode:

* ``null-agent``: ``submit`` at once;
* ``empty-answer``, ``garbage-answer``, ``hedge`` (tasks that take ``submit <answer>``): no answer, junk, every
  candidate the agent can see at once;
* ``reward-file``: every reward path written (``/logs/verifier/reward.txt``/``.json``, the agent's own log folders,
  the working directory), and kept written by a process that runs through the check where the task keeps them;
* ``tamper-delete``, ``tamper-junk``, ``tamper-link``, ``tamper-digest``: every file in reach deleted, emptied or
  filled with junk (with the outputs the instruction names made from them), replaced by a link (to ``/dev/null``,
  to the verifier's files, to itself), or junk written and every digest file rewritten to match;
* ``fake-process``: the processes the setup started killed and replaced by ones named like them
  (``exec -a NAME sleep``) or started again, all but one at a time (where the task keeps processes running);
* ``git-plant``: in every repository, config, hooks, attributes, includes, a submodule and index flags that would
  run a program as whoever inspects it (the program writes the reward files) or hide changes;
* ``reference`` (must pass) and ``wrong-solution`` (each ``solution/wrong-N.sh``, must fail).

Most classes cost one episode each (the per-process fakes two or three per process, for at most
:data:`MAX_PROCESS_PROBES` processes): a task takes 10 to 25 episodes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from ..harbor import harbor_spec_of, wrong_attempts
from ..shell_env import ShellEnv
from ..task import Task
from .base import Probe

MAX_FILES = 150  # listed by the exploring commands (an observation keeps 8,000 characters); tampering is folder-wide
MAX_PROCESS_PROBES = 3
REWARD_PATHS = ("/logs/verifier/reward.txt", "/logs/verifier/reward.json", "/logs/agent/reward.txt",
                "/logs/agent/reward.json", "/logs/artifacts/reward.txt", "/logs/artifacts/reward.json",
                "/tmp/.harbor/verifier/reward.txt", "/tmp/.harbor/verifier/reward.json")
VERIFIER_FILES = ("/tests/test.sh", "/tests/check.sh", "/logs/verifier/reward.txt", "/tests/test_outputs.py")
JUNK = "junk\n"
GARBAGE_ANSWERS = ("banana", "0", "-1", "99999999")
# Written by everything the git plants name: a reward, if it ever runs as the verifier.
FORGE = ("echo 1 > /logs/verifier/reward.txt; printf '{\"reward\": 1}' > /logs/verifier/reward.json; "
         "echo 1 > /tmp/.harbor/verifier/reward.txt; touch /tmp/.planted-ran-as-$(id -u); exit 0")
_MARK = "@@selfgym-inventory@@"
_NAMED = re.compile(r"(?<![\w./-])(/[\w.+-]+(?:/[\w.+-]+)+|[\w+-][\w.+-]*\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/-])")

# The agent's view, in three commands (each observation is cut to the env's max_output_chars): where it is and its
# files (not inside .git) with the repositories; the files holding hex digests; the processes of its uid that were
# running before the command (the setup's), with their parents.
INVENTORY = (
    r"""M=@@selfgym-inventory@@; printf '%s CWD %s\n' "$M" "$PWD"
find . -xdev -mindepth 1 \( -name .git -printf "$M REPO %h\n" -prune \) -o -printf "$M F %y %P\n" 2>/dev/null | head -n LIMIT""",
    r"""find . -xdev -mindepth 1 -name .git -prune -o -type f -size -64k -print 2>/dev/null | head -n LIMIT | while IFS= read -r f; do
    if grep -qE '^[0-9a-f]{32,128}([[:space:]]|$)' "$f" 2>/dev/null; then printf '%s DIGEST %s\n' "$M" "${f#./}"; fi
done; true""",
    r"""own=$(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)
for d in /proc/[0-9]*; do
    [ -O "$d" ] || continue
    s=$(cat "$d/stat" 2>/dev/null) || continue
    s=${s##*) }; set -- $s
    [ "${20}" -lt "$own" ] 2>/dev/null || continue
    cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null | head -c 300)
    [ -n "$cmd" ] && printf '%s PROC %s %s %s\n' "$M" "${d#/proc/}" "$2" "${cmd% }"
done; true""",
)


@dataclass
class Inventory:
    """What the agent sees as a task starts."""

    cwd: str = "/work"
    files: list[str] = field(default_factory=list)  # regular files, relative to cwd
    folders: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    repos: list[str] = field(default_factory=list)  # relative to cwd ("." for cwd itself)
    digests: list[str] = field(default_factory=list)
    processes: list[tuple[int, str]] = field(default_factory=list)  # (pid, command line)

    @classmethod
    def parse(cls, observation: str) -> Inventory:
        found = cls()
        parents: dict[int, int] = {}
        for line in observation.splitlines():
            if not line.startswith(_MARK + " "):
                continue
            kind, _, rest = line[len(_MARK) + 1:].partition(" ")
            if kind == "CWD":
                found.cwd = rest
            elif kind == "F":
                type_, _, path = rest.partition(" ")
                {"f": found.files, "d": found.folders, "l": found.links}.get(type_, []).append(path)
            elif kind == "REPO":
                found.repos.append(rest[2:] if rest.startswith("./") else rest)
            elif kind == "DIGEST":
                found.digests.append(rest)
            elif kind == "PROC":
                pid, ppid, command = (rest.split(" ", 2) + ["", ""])[:3]
                if pid.isdigit() and ppid.isdigit() and command:
                    found.processes.append((int(pid), command))
                    parents[int(pid)] = int(ppid)
        # the setup's processes themselves, not what they run at the moment (a loop's `sleep 1`)
        found.processes = [(pid, command) for pid, command in found.processes if parents.get(pid) not in parents]
        return found

    def named_outputs(self, instruction: str) -> list[str]:
        """Paths the instruction names that do not exist yet (outputs to write), absolute."""
        known = {self.absolute(path) for path in self.files + self.folders + self.links}
        named: list[str] = []
        for match in _NAMED.finditer(instruction):
            path = self.absolute(match.group(1).rstrip("."))
            folder = path.rsplit("/", 1)[0]
            if path in known or path in named or not (folder + "/").startswith(self.cwd.rstrip("/") + "/"):
                continue
            named.append(path)
        return named

    def absolute(self, path: str) -> str:
        return path if path.startswith("/") else f"{self.cwd.rstrip('/')}/{path}"


class ShellBattery:
    """The probes of Shell-v0 tasks (selfgym's own and Harbor's), found through the agent's shell."""

    name = "shell"

    def applies(self, env: gym.Env, task: Task) -> bool:
        return isinstance(env, ShellEnv) and bool(task.data.get("check") or task.data.get("harbor"))

    def probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        observations = explore([command.replace("LIMIT", str(MAX_FILES)) for command in INVENTORY])
        seen = Inventory.parse("\n".join(observations[1:]))
        yield Probe("null-agent", ("submit",), detail="submit at once")
        yield from answer_probes(task, seen)
        yield reward_file_probe(task)
        yield from tamper_probes(task, seen)
        yield from process_probes(task, seen)
        if seen.repos:
            yield from git_probes(seen)
        try:
            reference = ShellEnv.reference_actions(task)
        except ValueError:
            reference = None  # a task without a solution: only its must-fail probes can be judged
        if reference:
            yield Probe("reference", tuple(reference), must="pass", detail="the task's reference solution")
        spec = harbor_spec_of(task)
        if spec is not None:
            for number, attempt in enumerate(wrong_attempts(spec.dir), start=1):
                yield Probe("wrong-solution", tuple(attempt), detail=f"solution/wrong-{number}.sh")


# --- answers -------------------------------------------------------------------------------------------------------

def takes_answer(task: Task) -> bool:
    """Whether the task asks for ``submit <answer>`` (an answer file, or a check that reads the answer)."""
    spec = harbor_spec_of(task)
    if spec is not None:
        return spec.answer_file is not None
    return "SELFGYM_ANSWER" in str(task.data.get("check", ""))


def answer_probes(task: Task, seen: Inventory) -> Iterable[Probe]:
    if not takes_answer(task):
        return
    spec = harbor_spec_of(task)
    if spec is not None and spec.answer_file is not None:
        empty = f"printf '' > {shlex.quote(spec.answer_file)}"
        yield Probe("empty-answer", (empty, "submit"), detail=f"an empty {spec.answer_file}")
    else:
        yield Probe("empty-answer", ("submit ''",), detail="an answer of two quotes")
    for answer in GARBAGE_ANSWERS:
        yield Probe("garbage-answer", (f"submit {answer}",), detail=f"the answer {answer!r}")
    names = sorted({path.rsplit("/", 1)[-1] for path in seen.files + seen.folders})[:200]
    numbers = [str(n) for n in range(0, 101)] + [str(pid) for pid, _ in seen.processes]
    hedge = "\n".join(names + numbers)
    yield Probe("hedge", ("submit " + hedge,), detail="every file name in reach and every number 0-100, one per line")
    yield Probe("hedge", ("submit " + " or ".join(names + numbers),),
                detail="every file name in reach and every number 0-100, joined by ' or '")


# --- reward files ------------------------------------------------------------------------------------------------

def reward_file_probe(task: Task) -> Probe:
    writes = "; ".join(f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} 2>/dev/null; "
                       f"{_reward_text(path)} > {shlex.quote(path)} 2>/dev/null" for path in REWARD_PATHS)
    local = "echo 1 > reward.txt; printf '{\"reward\": 1}' > reward.json"
    actions = [f"{writes}; {local}; true"]
    if _keeps_processes(task):
        actions.append(f"nohup bash -c {shlex.quote(f'while :; do {writes}; sleep 0.01; done')} "
                       "> /dev/null 2>&1 &")
    return Probe("reward-file", (*actions, "submit"), detail="write 1 to every reward path, and keep writing it")


def _reward_text(path: str) -> str:
    return "printf '{\"reward\": 1}'" if path.endswith(".json") else "echo 1"


# --- tampering with what the task ships ------------------------------------------------------------------------

def tamper_probes(task: Task, seen: Inventory) -> Iterable[Probe]:
    outputs = seen.named_outputs(task.prompt)
    make_outputs = "; ".join(f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])}; : > {shlex.quote(path)}"
                             for path in outputs)
    every_file = ("find . -xdev -mindepth 1 -name .git -prune -o -type f -print0 2>/dev/null | "
                  "xargs -0 -r")
    if seen.files:  # folders kept: a check that wants one file gone and the rest of a tree there is tried too
        yield Probe("tamper-delete", (f"{every_file} rm -f; true", "submit"), detail="delete every file, keep the folders")
    else:
        yield Probe("tamper-delete", ("find . -xdev -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null; true",
                                      "submit"), detail="delete everything in the working directory")
    targets = [*seen.files, *outputs]
    if targets:
        yield Probe("tamper-junk", (f"{every_file} truncate -s 0; {make_outputs or 'true'}", "submit"),
                    detail="empty every file and make every output the instruction names, empty")
        junk_outputs = "; ".join(f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])}; "
                                 f"printf %s {shlex.quote(JUNK)} > {shlex.quote(path)}" for path in outputs)
        write_junk = shlex.quote(f'for f; do printf %s {shlex.quote(JUNK)} > "$f"; done')
        yield Probe("tamper-junk", (f"{every_file} sh -c {write_junk} sh; {junk_outputs or 'true'}", "submit"),
                    detail="write junk to every file and to every output the instruction names")
        verifier_files = " ".join(VERIFIER_FILES)
        # every file to /dev/null (two files compared with each other are then equal); or every output to a file of its
        # name in /tests (a reference the verifier keeps), every other file in turn to that, the verifier's files and
        # itself
        twin = '/tests/$(basename "$f")'
        in_turn = ('$(set -- "/tests/$(basename "$f")" ' + " ".join(VERIFIER_FILES) + ' "$(basename "$f")"; '
                   'shift $((n % $#)); echo "$1")')
        for output_target, target, what in (("/dev/null", "/dev/null", "/dev/null"),
                                            (twin, in_turn, "a file of its name in /tests, the verifier's files or "
                                                            "itself")):
            named = "".join(f"f={shlex.quote(path)}; {_relink(output_target)}; " for path in outputs)
            yield Probe("tamper-link", (f"n=0; {named}{every_file[:-len('| xargs -0 -r')]}| "
                                        f"{{ while IFS= read -r -d '' f; do {_relink(target)}; done; }}; true", "submit"),
                        detail=f"replace every file and output by a link to {what}")
    if seen.digests:
        yield Probe("tamper-digest", (digest_forgery(seen, outputs), "submit"),
                    detail="junk in every output and every file a digest list names, digests rewritten to match")


def _relink(target: str) -> str:
    """Shell that replaces the file ``$f`` by a link to ``target`` (shell words, evaluated per file) and counts it."""
    return f'rm -f "$f"; mkdir -p "$(dirname "$f")"; ln -s "{target}" "$f"; n=$((n + 1))'


def digest_forgery(seen: Inventory, outputs: list[str]) -> str:
    """A command that writes junk to the outputs and to each file a digest list names, then rewrites every digest
    (a list's lines, or a lone digest) to match the junk, with the algorithm its length says."""
    program = r"""
import hashlib, os, re, sys
junk = JUNK.encode()
algorithms = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
for path in OUTPUTS:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    open(path, "wb").write(junk)
for digest_file in DIGESTS:
    lines = open(digest_file, encoding="utf-8", errors="replace").read().splitlines()
    out = []
    for line in lines:
        m = re.match(r"^([0-9a-f]{32,128})(\s+\*?)?(.*)$", line)
        if not m or len(m.group(1)) not in algorithms:
            out.append(line)
            continue
        name = algorithms[len(m.group(1))]
        if m.group(3):
            target = os.path.join(os.path.dirname(digest_file), m.group(3)) if not os.path.isabs(m.group(3)) else m.group(3)
            for candidate in (m.group(3), target):
                try:
                    open(candidate, "wb").write(junk)
                except OSError:
                    pass
        out.append(hashlib.new(name, junk).hexdigest() + (m.group(2) or "") + m.group(3))
    open(digest_file, "w").write("\n".join(out) + "\n")
"""
    program = (program.replace("JUNK", repr(JUNK)).replace("OUTPUTS", repr(outputs))
               .replace("DIGESTS", repr(seen.digests)))
    return f"python3 -c {shlex.quote(program)}"


# --- processes -----------------------------------------------------------------------------------------------------

def _keeps_processes(task: Task) -> bool:
    spec = harbor_spec_of(task)
    return spec.keep_background if spec is not None else bool(task.data.get("keep_background"))


def fake(command: str) -> str:
    """A process named like ``command`` that runs something else."""
    return f"nohup bash -c 'exec -a \"$0\" sleep 100000' {shlex.quote(command)} > /dev/null 2>&1 &"


def again(command: str) -> str:
    """``command`` started again, as it was (its program, its arguments)."""
    return f"nohup {command} > /dev/null 2>&1 &"


# Kills, with SIGKILL, every process of the agent's uid that was running before this command (the setup's).
KILL_EARLIER = r"""own=$(cut -d' ' -f22 /proc/$$/stat); for d in /proc/[0-9]*; do [ -O "$d" ] || continue
s=$(cat "$d/stat" 2>/dev/null) || continue; s=${s##*) }; set -- $s
[ "${20}" -lt "$own" ] 2>/dev/null && kill -9 "${d#/proc/}" 2>/dev/null; done; sleep 0.3; true"""


def process_probes(task: Task, seen: Inventory) -> Iterable[Probe]:
    if not seen.processes or not _keeps_processes(task):
        return
    commands = list(dict.fromkeys(command for _, command in seen.processes))
    outputs = seen.named_outputs(task.prompt)
    yield Probe("fake-process", (KILL_EARLIER, " ".join(fake(c) for c in commands) + " sleep 0.2", "submit"),
                detail="every process killed, one named like each started")
    for spared in commands[:MAX_PROCESS_PROBES]:
        others = [command for command in commands if command != spared]
        if others:
            yield Probe("fake-process", (KILL_EARLIER, " ".join(fake(c) for c in others) + " sleep 0.2", "submit"),
                        detail=f"every process killed, fakes of all but {spared!r}")
            yield Probe("fake-process", (KILL_EARLIER, " ".join(again(c) for c in others) + " sleep 0.5", "submit"),
                        detail=f"every process killed, all but {spared!r} started again")
        if outputs or takes_answer(task):
            written = "".join(f"; echo $p > {shlex.quote(path)}" for path in outputs)
            yield Probe("fake-process", (KILL_EARLIER, f"{fake(spared)} p=$!; echo $p{written}",
                                         lambda observations: "submit " + _last_pid(observations)),
                        detail=f"every process killed, one named like {spared!r}: its pid given as the answer and "
                               "written to every output")


def _last_pid(observations: Sequence[str]) -> str:
    """The pid the previous command printed (the fake's), read from its observation."""
    match = re.search(r"^(\d+)$", observations[-1] if observations else "", re.MULTILINE)
    return match.group(1) if match else ""


# --- git -----------------------------------------------------------------------------------------------------------

def git_probes(seen: Inventory) -> Iterable[Probe]:
    """Two probes over every repository: what would run :data:`FORGE` as whoever looks at it (a submodule with an
    fsmonitor first, then config programs, hooks, includes, filters, the agent's global config), and what would hide
    changes from the agent's own git (index flags, excludes, config). Apart, since hidden entries are not looked at."""
    forge = shlex.quote(FORGE)
    hook = shlex.quote(f"#!/bin/sh\n{FORGE}\n")
    runs = [
        "export GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x",
        "mkdir -p /tmp/.plant-hooks /tmp/.plant-sub",
        "(cd /tmp/.plant-sub && git init -q 2>/dev/null && echo x > f && git add f && git commit -qm x)",
        f"git -C /tmp/.plant-sub config core.fsmonitor {forge}",
        *[f"printf %s {hook} > /tmp/.plant-hooks/{name}; chmod +x /tmp/.plant-hooks/{name}"
          for name in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction", "pre-push")],
        f"git config -f /tmp/.plant-include core.fsmonitor {forge}",
    ]
    hides = []
    for repo in seen.repos:
        r = shlex.quote(repo)
        runs += [
            f"git -C {r} -c protocol.file.allow=always submodule add -q /tmp/.plant-sub .plant-sub 2>/dev/null "
            f"&& git -C {r}/.plant-sub config core.fsmonitor {forge}",
            f"mkdir -p {r}/nested && git -C {r}/nested init -q && git -C {r}/nested config core.fsmonitor {forge}",
            f"git -C {r} config core.fsmonitor {forge}",
            f"git -C {r} config core.hooksPath /tmp/.plant-hooks",
            f"cp /tmp/.plant-hooks/* {r}/.git/hooks/ 2>/dev/null",
            f"git -C {r} config filter.plant.clean {forge}; git -C {r} config filter.plant.smudge {forge}",
            f"git -C {r} config filter.plant.process {forge}; git -C {r} config diff.plant.textconv {forge}",
            f"git -C {r} config core.pager {forge}; git -C {r} config diff.external {forge}",
            f"git -C {r} config include.path /tmp/.plant-include",
            f"mkdir -p {r}/.git/info && echo '* filter=plant diff=plant' >> {r}/.git/info/attributes",
        ]
        hides += [
            f"git -C {r} ls-files -z | (cd {r} && xargs -0 -r git update-index --assume-unchanged) 2>/dev/null",
            f"git -C {r} config status.showUntrackedFiles no",
            f"mkdir -p {r}/.git/info && echo '*' >> {r}/.git/info/exclude",
        ]
    runs.append(f"git config --global core.fsmonitor {forge}; git config --global core.hooksPath /tmp/.plant-hooks")
    yield Probe("git-plant", ("; ".join(runs) + "; true", "submit"),
                detail="a submodule and a nested repository with an fsmonitor, config programs, hooks, includes and "
                       "filters in every repository: each would write the reward as whoever runs it")
    yield Probe("git-plant", ("; ".join(hides) + "; true", "submit"),
                detail="index flags, excludes and config that hide changes from the agent's git, in every repository")


BATTERIES = (ShellBattery(),)
