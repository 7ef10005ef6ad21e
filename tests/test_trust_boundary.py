"""The trust boundary, attacked the way a reward-hacking policy would: through the public API (``gym.make``,
``SandboxPool``), with code that runs in the sandbox. Each test asserts what must hold: reward 0, nothing carried
into the next episode, the host's memory and disk bounded. One class of attack per section (issue 13's list).
"""

from __future__ import annotations

import json
import random
import struct
import time
import tracemalloc

import gymnasium as gym
import pytest

import selfgym  # noqa: F401  (registers the ids)
from selfgym.sandbox import Limits, Sandbox, SandboxLostError, SandboxPool, SandboxStartError
from selfgym.sandbox import sandbox as sandbox_module

pytestmark = pytest.mark.docker

PROBE_EXECUTOR = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(what, action):
    try:
        result = action()
        print(what, "ALLOWED", repr(result)[:60])
    except OSError as exc:
        print(what, "denied", exc.errno)
attempt("mem", lambda: open("/proc/%d/mem" % PID, "r+b").read(1))
attempt("environ", lambda: open("/proc/%d/environ" % PID, "rb").read(64))
attempt("fd0", lambda: os.readlink("/proc/%d/fd/0" % PID))
attempt("fd1", lambda: open("/proc/%d/fd/1" % PID, "wb").write(b"\x00\x00\x00\x02{}"))
attempt("fd2", lambda: open("/proc/%d/fd/2" % PID, "wb").write(b"x" * 1000))
attempt("kill", lambda: os.kill(PID, 2))
def ptrace():
    if libc.ptrace(16, PID, 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
    return "attached"
attempt("ptrace", ptrace)
"""


def probe(sandbox, pid: int = 1, user: str = "agent") -> dict[str, str]:
    """Try every way to reach process ``pid`` from a process of ``user``; what each attempt got."""
    result = sandbox.run(["python3", "-c", PROBE_EXECUTOR.replace("PID", str(pid))], user=user)
    outcome = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert set(outcome) == {"mem", "environ", "fd0", "fd1", "fd2", "kill", "ptrace"}, result
    return outcome


@pytest.fixture(scope="module")
def one_pool(client, sandbox_image):
    """One sandbox, so that consecutive episodes run in the same container."""
    with SandboxPool(sandbox_image, size=1, client=client) as pool:
        yield pool


def shell(pool, **kwargs):
    return gym.make("selfgym/Shell-v0", pool=pool, **kwargs)


# --- 1. the executor (PID 1) is out of reach: memory, ptrace, its channel, signals --------------------------------

def test_the_executor_cannot_be_read_traced_signalled_or_written(sandbox):
    outcome = probe(sandbox, 1)
    assert all(value.startswith("denied") for value in outcome.values()), outcome
    status = sandbox.run("grep -E '^(Uid|CapEff)' /proc/1/status; cat /proc/self/status | grep CapEff").stdout
    assert "Uid:\t0\t0\t0\t0" in status  # root inside the container, the agent is uid 1000 with no capability
    assert status.count("CapEff:\t0000000000000000") == 1
    assert sandbox.ping()["pid"] == 1


def test_a_patched_reset_is_impossible_files_of_one_episode_never_reach_the_next(one_pool):
    env = shell(one_pool)
    try:
        env.reset(options={"task_id": "shell/files-001"})
        attack = ("python3 -c \"import os; f = open('/proc/1/mem', 'r+b')\" 2>&1 | tail -1; "
                  "echo secret > /work/left; echo x > /tmp/left; echo y > /dev/shm/left; setsid sleep 600 &")
        observation, *_ = env.step(attack)
        assert "Permission denied" in observation
        for _ in range(2):  # the next two episodes, in the same container
            env.reset(options={"task_id": "shell/files-001"})
            observation, *_ = env.step("ls -A /work /tmp /dev/shm /dev/mqueue; pgrep -c sleep || true")
            assert "left" not in observation and observation.splitlines()[-2].strip() == "0", observation
    finally:
        env.close()


def test_the_previous_episodes_request_cannot_be_read_from_the_executor(one_pool):
    env = gym.make("selfgym/Code-v0", pool=one_pool)
    try:
        env.reset(options={"task_id": "HumanEval/0"})
        env.step("```python\ndef has_close_elements(a, b):\n    return False\n```")
        env.reset(options={"task_id": "HumanEval/2"})
        # a solution that hunts the executor's memory and every process's stdin for the last task's tests
        hunt = ("import glob, os\nfound = []\nfor path in glob.glob('/proc/[0-9]*/mem') + glob.glob('/proc/[0-9]*/fd/0'):\n"
                "    if path.split('/')[2] == str(os.getpid()):\n        continue  # our own stdin: the judge's pipe\n"
                "    try:\n        found.append(open(path, 'rb').read(1 << 20))\n    except OSError as exc:\n"
                "        pass\n"
                "def truncate_number(number):\n"
                "    raise ValueError(str(sum(b'has_close_elements' in data for data in found)) + ' leaks')\n")
        observation, reward, *_ = env.step(f"```python\n{hunt}```")
        assert reward == 0.0 and "ValueError: 0 leaks" in observation, observation
    finally:
        env.close()


# --- 2. forged replies on the executor's channel --------------------------------------------------------------------

FORGE = ("python3 -c \"import json, struct, os\n"
         "reply = json.dumps({'ok': True, 'id': 7, 'exit_code': 0, 'stdout': '', 'stderr': '', 'duration_s': 0.1,"
         " 'timed_out': False, 'oom_killed': False, 'truncated': False, 'disk_full': False,"
         " 'pids_limited': False}).encode()\n"
         "for target in ('/proc/1/fd/1', '/proc/1/fd/0'):\n"
         "    try:\n        open(target, 'wb').write(struct.pack('>I', len(reply)) + reply)\n"
         "    except OSError as exc:\n        print(target, exc.errno)\" ; kill -INT 1; kill -9 1; echo done")


def test_forged_replies_do_not_pass_a_submit_now_or_in_the_next_episode(one_pool):
    env = shell(one_pool)
    try:
        env.reset(options={"task_id": "shell/text-001"})
        observation, *_ = env.step(FORGE)
        assert "/proc/1/fd/1 13" in observation and "Operation not permitted" in observation, observation
        _, reward, terminated, _, info = env.step("submit")
        assert (reward, terminated, info["passed"]) == (0.0, True, False)
        env.reset(options={"task_id": "shell/text-001"})
        _, reward, *_ = env.step("submit")  # nothing of the forgery is left in the channel
        assert reward == 0.0
    finally:
        env.close()


# --- 3. the host's disk: no container log ---------------------------------------------------------------------------

def test_output_never_lands_in_a_log_on_the_host(client, sandbox):
    result = sandbox.run("head -c 50000000 /dev/zero; head -c 50000000 /dev/zero >&2; "
                         "head -c 1000 /dev/zero > /proc/1/fd/2", timeout_s=30)
    assert result.truncated and "Permission denied" in result.stderr
    info = client.api.inspect_container(sandbox.container_id)
    assert info["HostConfig"]["LogConfig"]["Type"] == "none"
    assert info["LogPath"] == ""  # no json-file log anywhere on the host's disk


# --- 4. the host side of the channel: bounded and validated ------------------------------------------------------------

def _hostile_executor(reply: bytes, *, hello: dict | None = None) -> bytes:
    """An 'executor' that greets properly (or with ``hello``), then answers the first request with ``reply``."""
    greeting = hello or {"ok": True, "ready": True, "protocol": 2, "pid": 1, "uid": 0, "undumpable": True,
                         "agent_uid": 1000, "verifier_uid": 1001}
    return (
        "import os, struct, sys, time, json\n"
        "def send(data):\n    view = memoryview(data)\n    while view:\n        view = view[os.write(1, view):]\n"
        f"hello = json.dumps({greeting!r}).encode()\n"
        "send(struct.pack('>I', len(hello)) + hello)\n"
        "size = struct.unpack('>I', os.read(0, 4))[0]\n"
        "while size > 0:\n    size -= len(os.read(0, min(size, 1 << 20)))\n"
        f"send({reply!r})\n"
        "time.sleep(60)\n"
    ).encode()


def _reply(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


GOOD = {"ok": True, "id": 1, "exit_code": 0, "stdout": "", "stderr": "", "duration_s": 0.1, "timed_out": False,
        "oom_killed": False, "truncated": False, "disk_full": False, "pids_limited": False}
rng = random.Random(13)
HOSTILE_REPLIES = {
    "2 GiB header": struct.pack(">I", 2**31) + b"x" * 100_000,
    "4 GiB - 1 header": b"\xff\xff\xff\xff" + b"{" * 100_000,
    "1 MiB reply to a command capped far lower": _reply(dict(GOOD, stdout="QUFB" * 300_000)),
    "not JSON": struct.pack(">I", 20) + b"\x00" * 20,
    "JSON, not an object": _reply([1, 2, 3]),  # type: ignore[arg-type]
    "deep nesting": struct.pack(">I", 40_000) + b"[" * 20_000 + b"]" * 20_000,
    "wrong types": _reply(dict(GOOD, exit_code="0")),
    "unknown field": _reply(dict(GOOD, passed=True)),
    "missing field": _reply({k: v for k, v in GOOD.items() if k != "timed_out"}),
    "negative exit code": _reply(dict(GOOD, exit_code=-1)),
    "not base64": _reply(dict(GOOD, stdout="not base64!!")),
    "another request's id": _reply(dict(GOOD, id=999)),
    "two replies": _reply(GOOD) + _reply(GOOD),
    "bytes after the reply": _reply(GOOD) + b"\x00\x00",
    **{f"random bytes {i}": bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 5000))) for i in range(12)},
    **{f"random header {i}": struct.pack(">I", rng.getrandbits(32)) + bytes(rng.getrandbits(8) for _ in range(64))
       for i in range(8)},
}


@pytest.mark.parametrize("name", list(HOSTILE_REPLIES))
def test_a_hostile_reply_marks_the_sandbox_dead_never_a_result(monkeypatch, client, sandbox_image, name):
    monkeypatch.setattr(sandbox_module, "_EXECUTOR_SOURCE", _hostile_executor(HOSTILE_REPLIES[name]))
    limits = Limits(memory_mb=256, disk_mb=16, max_output_bytes=64 * 1024, timeout_s=3)
    with Sandbox(sandbox_image, limits, client=client) as sb:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(SandboxLostError):
                sb.run("true")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert time.monotonic() - started < 3 + 15 + 5  # the command's timeout and the host's grace, at most
        assert peak < 8 * 1024 * 1024, peak  # the host never buffers what a header announces
        assert not sb.alive


@pytest.mark.parametrize("hello, says", [
    ({"ok": True, "ready": True, "protocol": 2, "pid": 1, "uid": 1000, "undumpable": True, "agent_uid": 1000,
      "verifier_uid": 1001}, "not as root"),
    ({"ok": True, "ready": True, "protocol": 2, "pid": 1, "uid": 0, "undumpable": False, "agent_uid": 1000,
      "verifier_uid": 1001}, "undumpable"),
    ({"ok": True, "ready": True}, "did not start"),
])
def test_an_executor_that_is_not_privilege_separated_is_refused(monkeypatch, client, sandbox_image, hello, says):
    monkeypatch.setattr(sandbox_module, "_EXECUTOR_SOURCE", _hostile_executor(b"", hello=hello))
    with pytest.raises(SandboxStartError, match=says):
        Sandbox(sandbox_image, Limits(memory_mb=256, disk_mb=16), client=client)


# --- 5. IPC that outlives a process: System V and POSIX ------------------------------------------------------------

IPC_PLANT = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(4242, 4096, 0o1666)
addr = libc.shmat(shm, None, 0)
ctypes.memmove(ctypes.c_void_p(addr), b"episode-secret", 14)
big = libc.shmget(4343, 400 << 20, 0o1666)
print("big", big, ctypes.get_errno())
msg = libc.msgget(4444, 0o1666)
print("made", shm >= 0, msg >= 0, libc.semget(4545, 1, 0o1666) >= 0)
rt = ctypes.CDLL("librt.so.1", use_errno=True)
print("mq", rt.mq_open(b"/leak", os.O_CREAT | os.O_RDWR, 0o666, None))
"""
IPC_LOOK = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget(4242, 0, 0), "msg", libc.msgget(4444, 0), "sem", libc.semget(4545, 0, 0))
for kind in ("shm", "msg", "sem"):
    print(kind, len(open("/proc/sysvipc/" + kind).read().splitlines()) - 1)
import os
print("mqueue", os.listdir("/dev/mqueue"))
print("alloc", len(bytearray(200 << 20)))
"""


def test_ipc_objects_do_not_survive_into_the_next_episode(one_pool):
    env = shell(one_pool)
    try:
        env.reset(options={"task_id": "shell/files-001"})
        observation, *_ = env.step(f"python3 -c '{IPC_PLANT}'; ls /dev/mqueue; sleep 1000 &")
        assert "big -1 22" in observation  # a 400 MiB segment is refused: System V memory is capped
        assert "made True True True" in observation and "leak" in observation, observation
        env.reset(options={"task_id": "shell/files-001"})
        observation, *_ = env.step(f"python3 -c '{IPC_LOOK}'")
        assert "shm -1 msg -1 sem -1" in observation, observation
        for kind in ("shm", "msg", "sem"):
            assert f"\n{kind} 0" in observation
        assert "mqueue []" in observation and "alloc 209715200" in observation
    finally:
        env.close()


# --- 6. Code-v0: the verdict is out of the solution's reach -----------------------------------------------------------

EQUAL_TO_EVERYTHING = ("class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
                       "    def __bool__(self):\n        return True\n    def __ne__(self, other):\n        return False\n"
                       "    def __lt__(self, other):\n        return True\n    __gt__ = __le__ = __ge__ = __lt__\n"
                       "    def __abs__(self):\n        return 0\n    def __sub__(self, other):\n        return self\n"
                       "    def __len__(self):\n        return 0\n    def __iter__(self):\n        return iter(())\n")
FRAME_WALKER = (
    "import sys, gc\n"
    "def _forge():\n"
    "    # up the stack and through the heap: whatever reports results is told that everything passed\n"
    "    frame = sys._getframe()\n"
    "    while frame:\n"
    "        for name, value in list(frame.f_globals.items()) + list(frame.f_locals.items()):\n"
    "            for attr in ('emit', 'send', 'report', 'write'):\n"
    "                fn = getattr(value, attr, None)\n"
    "                if callable(fn):\n"
    "                    for i in range(200):\n"
    "                        for record in ({'kind': 'test', 'suite': 'hidden', 'index': i, 'passed': True},\n"
    "                                       {'id': i, 'ok': True, 'value': True, 'args': {}}):\n"
    "                            try:\n                                fn(record)\n"
    "                            except BaseException:\n                                pass\n"
    "        frame = frame.f_back\n"
    "    for obj in gc.get_objects():\n"
    "        if type(obj).__name__ in ('Link', 'Subject'):\n"
    "            for i in range(200):\n"
    "                try:\n                    obj.link.send({'id': i, 'ok': True, 'value': True, 'args': {}})\n"
    "                except BaseException:\n                    pass\n"
)
JUDGE_HUNTER = (
    "import os, signal\n"
    "def _hunt():\n"
    "    found = []\n"
    "    for pid in os.listdir('/proc'):\n"
    "        if not pid.isdigit() or int(pid) == os.getpid():\n            continue\n"
    "        try:\n            uid = os.stat('/proc/' + pid).st_uid\n        except OSError:\n            continue\n"
    "        if uid == os.getuid():\n            continue\n"
    "        for attempt in (lambda: open('/proc/%s/fd/0' % pid, 'rb').read(),\n"
    "                        lambda: open('/proc/%s/mem' % pid, 'rb').read(1),\n"
    "                        lambda: os.kill(int(pid), signal.SIGSTOP)):\n"
    "            try:\n                attempt()\n                found.append(pid)\n"
    "            except OSError:\n                pass\n"
    "    return found\n"
)
ATTACKS = {
    "always equal": (EQUAL_TO_EVERYTHING, "return Anything()"),
    "always-equal subclass of the right type": (
        "class Yes(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
        "class Same(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
        "class Many(list):\n    def __eq__(self, other):\n        return True\n", "return Yes(12345)"),
    "frame and heap walking": (FRAME_WALKER, "_forge()\n    return None"),
    "hunting, stopping and reading the judge": (JUDGE_HUNTER,
                                                "if _hunt():\n        raise SystemExit('reached the judge')\n"
                                                "    return None"),
}
# The task ids where a frame-walking forgery worked before the judge was split out (issue 13).
TARGETS = {"HumanEval/0": "has_close_elements(numbers, threshold)", "HumanEval/32": "find_zero(xs)",
           "HumanEval/129": "minPath(grid, k)", "HumanEval/163": "generate_integers(a, b)"}


@pytest.fixture(scope="module")
def code_env(pool):
    env = gym.make("selfgym/Code-v0", pool=pool, max_steps=10, timeout_s=20.0)
    yield env
    env.close()


@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("task_id", list(TARGETS))
def test_code_v0_verdicts_cannot_be_forged(code_env, task_id, attack):
    helpers, body = ATTACKS[attack]
    code_env.reset(options={"task_id": task_id})
    solution = f"{helpers}\ndef {TARGETS[task_id]}:\n    {body}\n"
    observation, reward, terminated, _, info = code_env.step(f"```python\n{solution}```")
    assert (reward, terminated) == (0.0, False), observation
    assert info["passed"] < info["total"]
    assert "reached the judge" not in observation


def test_a_returned_object_has_no_truth_value_and_equals_only_itself(code_env):
    code_env.reset(options={"task_id": "HumanEval/0"})
    solution = f"{EQUAL_TO_EVERYTHING}\ndef has_close_elements(numbers, threshold):\n    return Anything()\n"
    observation, reward, *_ = code_env.step(f"```python\n{solution}```")
    assert reward == 0.0 and "<Anything object>" in observation, observation


def test_the_judge_process_is_out_of_the_solutions_reach(sandbox):
    # a long-running process of the verifier's uid stands in for the judge
    sandbox.run("sleep 30 &", user="verifier", keep_background=True)
    pid = int(sandbox.run("pgrep -u 1001 sleep", keep_background=True).stdout.split()[0])
    outcome = probe(sandbox, pid, "agent")
    assert all(value.startswith("denied") for value in outcome.values()), outcome


def test_a_shell_check_is_out_of_reach_of_the_agents_background_processes(one_pool):
    env = shell(one_pool)
    try:
        # a task that keeps the agent's processes running, with a check that takes a second
        env.reset(options={"task_id": "shell/processes-003"})
        watcher = ("nohup python3 -c \"\nimport os, signal, time\nseen = set()\nend = time.time() + 20\n"
                   "open('/work/ready', 'w').close()\n"
                   "while time.time() < end:\n    for pid in os.listdir('/proc'):\n"
                   "        try:\n            if not pid.isdigit() or os.stat('/proc/' + pid).st_uid != 1001:\n"
                   "                continue\n        except OSError:\n            continue\n"
                   "        seen.add(pid)\n        for fd in range(0, 70):\n            try:\n"
                   "                open('/proc/%s/fd/%d' % (pid, fd), 'wb').write(b'x')\n"
                   "                open('/work/breach', 'a').write('fd %s' % fd)\n            except OSError:\n"
                   "                pass\n        try:\n            os.kill(int(pid), signal.SIGSTOP)\n"
                   "            open('/work/breach', 'a').write('stopped')\n        except OSError:\n            pass\n"
                   "    open('/work/seen', 'w').write(str(len(seen)))\n    time.sleep(0.002)\n\" "
                   "> /dev/null 2>&1 &")
        env.step(watcher)
        env.step("while [ ! -e ready ]; do sleep 0.05; done")
        _, reward, terminated, _, info = env.step("submit")  # the worker still runs: the check must fail
        assert (reward, terminated, info["passed"]) == (0.0, True, False)
        sandbox = env.unwrapped.sandbox
        assert int(sandbox.read_file("seen")) >= 1  # the watcher saw the check's processes...
        with pytest.raises(Exception, match="No such file"):
            sandbox.read_file("breach")  # ...and reached none of them
    finally:
        env.close()


def test_a_check_runs_no_agent_code_as_the_verifier():
    from selfgym.envs.shell import tasks_from_entries

    entry = {"id": "t", "prompt": "p", "difficulty": 0, "category": "git", "solution": ["submit"],
             "check": "cd repo\n[ \"$(git log -1 --format=%s)\" = done ]"}
    with pytest.raises(ValueError, match="as_agent git"):
        tasks_from_entries([entry], "inline")
    entry["check"] = "cd repo\n[ \"$(as_agent git log -1 --format=%s)\" = done ]"
    assert tasks_from_entries([entry], "inline")


def test_git_config_of_the_agent_runs_as_the_agent_not_the_verifier(one_pool):
    env = shell(one_pool)
    try:
        env.reset(options={"task_id": "shell/git-001"})
        # a repository whose config runs a command on every status: the classic way into whoever inspects it
        env.step("cd notes && git init -q && git add . && git commit -qm 'initial notes' && "
                 "git config core.fsmonitor 'id -u > /work/fsmonitor-uid; false'")
        _, reward, *_ = env.step("submit")
        assert reward == 1.0
        assert env.unwrapped.sandbox.read_file("fsmonitor-uid").strip() == b"1000"
    finally:
        env.close()
