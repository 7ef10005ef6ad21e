"""The episode's server: every program of an episode starts as a fork of a warm interpreter, PID 1 of the episode.

A fork of anything carries its memory, so these tests attack what a fork could leak or reach: an earlier
request's data in a later program's memory, the server itself (root), processes that outlive a reset. They also
pin that a forked program behaves as ``python3 -c`` would (uid, fds, exit codes, errors, timeouts), and that a
server that dies loses the sandbox (the env replays the episode on another).
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.code_env import CodeEnv
from selfgym.sandbox import PythonProgram, SandboxLostError, SandboxPool

from test_trust_boundary import PROBE_EXECUTOR, probe

pytestmark = pytest.mark.docker

WHO_AM_I = """
import os, sys
fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))
caps = [line for line in open('/proc/self/status') if line.startswith('CapEff')][0].split()[1]
print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd(), os.getsid(0) == os.getpid(), caps,
      fds[:3], os.environ.get('GREETING'), sys.stdin.read())
"""


@pytest.mark.parametrize("user, uid", [("agent", 1000), ("verifier", 1001)])
def test_a_program_runs_as_its_user_in_a_session_of_its_own_with_only_its_own_fds(sandbox, user, uid):
    result = sandbox.run(PythonProgram(WHO_AM_I), user=user, stdin="from stdin", env={"GREETING": "hi"})
    assert result.exit_code == 0, result
    assert result.stdout.split() == [str(uid), str(uid), "[]", "/work", "True", "0000000000000000",
                                     "[0,", "1,", "2]", "hi", "from", "stdin"]
    listed = sandbox.run(PythonProgram("import os; print(len(os.listdir('/proc/self/fd')))")).stdout
    assert listed.strip() == "4"  # 0, 1, 2 and the listing's own: nothing of the server's


@pytest.mark.parametrize("source, code, stderr", [
    ("print('fine')", 0, ""),
    ("raise SystemExit(3)", 3, ""),
    ("import sys; sys.exit('a message')", 1, "a message"),
    ("import os; os._exit(5)", 5, ""),
    ("1 / 0", 1, "ZeroDivisionError"),
    ("def broken(:\n    pass", 1, "SyntaxError"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137, ""),
])
def test_exit_codes_and_errors_are_python3s(sandbox, source, code, stderr):
    result = sandbox.run(PythonProgram(source))
    assert result.exit_code == code, result
    assert stderr in result.stderr


def test_a_program_past_its_time_is_killed_with_what_it_forked(sandbox):
    source = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('started', flush=True)\ntime.sleep(60)"
    result = sandbox.run(PythonProgram(source), timeout_s=1.0)
    assert result.timed_out and "started" in result.stdout
    assert sandbox.run("pgrep -u 1000 -c python3 || true").stdout.strip() == "0"


# What a hostile program hunts in its own memory, which is a copy of the episode server's: the halves of each
# marker are joined only when searched, so that the searching program holds no whole marker of its own.
HUNT = """
import re
halves = {HALVES}
found = {name: 0 for name in halves}
for line in open('/proc/self/maps'):
    start, end = (int(x, 16) for x in line.split()[0].split('-'))
    if 'r' not in line.split()[1] or end - start > (1 << 30):
        continue
    try:
        with open('/proc/self/mem', 'rb') as mem:
            mem.seek(start)
            data = mem.read(end - start)
    except OSError:
        continue
    for name, (left, right) in halves.items():
        for hit in re.finditer(re.escape(left.encode()), data):
            if data[hit.end():hit.end() + len(right)] == right.encode():
                found[name] += 1
print(' '.join('%s=%d' % item for item in sorted(found.items())))
"""

MARKERS = {"public": ("kq7-public-", "marker-3x"), "source": ("kq7-private-", "source-9y"),
           "stdin": ("kq7-private-", "stdin-4z")}


def hunt(sandbox) -> dict[str, int]:
    halves = {name: list(pair) for name, pair in MARKERS.items()}
    result = sandbox.run(PythonProgram(HUNT.replace("{HALVES}", repr(halves))))
    assert result.exit_code == 0, result
    return {name: int(count) for name, count in (item.split("=") for item in result.stdout.split())}


def test_an_earlier_requests_data_never_reaches_a_later_programs_memory(sandbox):
    joined = {name: left + right for name, (left, right) in MARKERS.items()}
    # the verifier runs a private program with a secret in its source and another on its stdin...
    secret = sandbox.run(PythonProgram(f"import sys\nSECRET = {joined['source']!r}\nprint(len(sys.stdin.read()))"),
                         user="verifier", stdin=joined["stdin"] * 100)
    assert secret.stdout.strip() == str(100 * len(joined["stdin"]))
    # ...and a public program (its source is not secret: the server keeps it compiled)
    sandbox.run(PythonProgram(f"MARKER = {joined['public']!r}", public=True), user="verifier")
    found = hunt(sandbox)
    assert found["public"] >= 1, found  # the hunt finds what is there: the public program's constant...
    assert found["source"] == 0 and found["stdin"] == 0, found  # ...and no private one


def test_the_episode_server_is_out_of_the_agents_reach_and_nothing_else_of_ours_is_visible(sandbox):
    # PID 1 of the episode is its server (root, the parent of every program); the executor and the process that
    # makes episodes live in the container's namespace, which no program of the episode sees
    started = probe(sandbox, 1)  # from a started interpreter...
    forked = sandbox.run(PythonProgram(PROBE_EXECUTOR.replace("PID", "1")))  # ...and from its own fork
    forked = dict(line.split(" ", 1) for line in forked.stdout.splitlines())
    for outcome in (started, forked):
        assert len(outcome) == 7 and all(value.startswith("denied") for value in outcome.values()), outcome
    listing = [line.split() for line in sandbox.run("ps -e -o pid=,uid=,comm=").stdout.splitlines()]
    assert listing[0] == ["1", "0", "python3"] and [row[1:] for row in listing[1:]] == [["1000", "ps"]], listing
    assert sandbox.ping()["pid"] == 1


def test_a_reset_ends_the_episodes_processes_and_starts_a_new_episode_server(sandbox):
    before = sandbox.ping()["episode_server"]
    source = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
    sandbox.run(PythonProgram(source), keep_background=True)
    assert sandbox.run("pgrep -u 1000 -c python3", keep_background=True).stdout.strip() == "1"
    sandbox.reset()
    assert sandbox.run("pgrep -u 1000 -c python3 || true").stdout.strip() == "0"
    assert sandbox.ping()["episode_server"] != before
    assert sandbox.run(PythonProgram("print(6 * 7)")).stdout == "42\n"


def test_a_killed_episode_server_loses_the_sandbox_and_the_env_replays_the_episode(client, sandbox_image):
    with SandboxPool(sandbox_image, size=1, client=client) as pool:
        env = gym.make("selfgym/Code-v0", pool=pool)
        try:
            env.reset(options={"task_id": "HumanEval/0"})
            sandbox = env.unwrapped.sandbox
            server = sandbox.ping()["episode_server"]
            client.containers.get(sandbox.container_id).exec_run(["kill", "-9", str(server)], user="root")
            with pytest.raises(SandboxLostError):
                sandbox.run(PythonProgram("print(1)"))
            reference = CodeEnv.reference_actions(env.unwrapped.task)[0]
            _, reward, _, _, info = env.step(reference)  # played again on a new sandbox: not the agent's failure
            assert reward == 1.0 and info["infra_retries"] == 1
        finally:
            env.close()
