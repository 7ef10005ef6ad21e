"""A fresh kernel view for every episode: what one episode sets in the kernel never reaches the next.

Each attack plants state in episode N through the public API and looks for it in episode N+1 of the *same*
container (a pool of one sandbox): connection endpoints in TIME_WAIT, the pid counter, loopback byte counters,
inode numbers, abstract sockets, cgroup counters, daemons watching for the next episode's commands. Within a
Code-v0 episode the same holds from one attempt to the next, and the feedback carries nothing the solution chose
once it has seen hidden tests. A positive control in the planting episode shows each plant took.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import selfgym  # noqa: F401  (registers the ids)
from selfgym.sandbox import PythonProgram, SandboxPool

pytestmark = pytest.mark.docker

TASK = "shell/files-001"


@pytest.fixture(scope="module")
def one_pool(client, sandbox_image):
    """One sandbox, so that consecutive episodes run in the same container."""
    with SandboxPool(sandbox_image, size=1, client=client) as pool:
        yield pool


@pytest.fixture
def shell(one_pool):
    env = gym.make("selfgym/Shell-v0", pool=one_pool, max_steps=10)
    yield env
    env.close()


def play(env, command: str, *, task: str = TASK) -> str:
    """A new episode of ``task`` that runs ``command``; its output."""
    env.reset(options={"task_id": task})
    observation, *_ = env.step(command)
    return observation


def tcp_endpoints(observation: str) -> list[str]:
    """Rows of /proc/net/tcp and tcp6 printed by ``cat`` (the header lines left out)."""
    return [line for line in observation.splitlines() if line.split()[:1] and line.split()[0][:-1].isdigit()
            and line.split()[0].endswith(":")]


# A secret byte per connection, in the client's port: each connection is closed by the client first, which leaves
# its endpoint in TIME_WAIT (60 s) in this network namespace.
TIME_WAIT_PLANT = r"""python3 - <<'EOF'
import socket
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 7000)); server.listen(8)
for byte in b"SECRT!":  # distinct bytes: distinct ports
    client = socket.socket(); client.bind(("127.0.0.1", 40000 + byte)); client.connect(("127.0.0.1", 7000))
    peer, _ = server.accept(); client.sendall(b"x" * 100000); peer.recv(1 << 20); client.close(); peer.close()
EOF
cat /proc/net/tcp /proc/net/tcp6; grep lo: /proc/net/dev"""
LOOK = "cat /proc/net/tcp /proc/net/tcp6; grep lo: /proc/net/dev; echo pid $$; cat /proc/loadavg"


def test_connections_ports_and_loopback_counters_of_one_episode_are_not_in_the_next(shell):
    planted = play(shell, TIME_WAIT_PLANT)
    assert len(tcp_endpoints(planted)) >= 6, planted  # the plant took: TIME_WAIT rows, one per secret byte
    lo_bytes = int(planted.split("lo:")[1].split()[0])
    assert lo_bytes > 600_000, planted  # and the loopback counters moved
    for _ in range(2):
        seen = play(shell, LOOK)
        assert tcp_endpoints(seen) == [], seen
        assert seen.split("lo:")[1].split()[:2] == ["0", "0"], seen  # no byte, no packet: a new loopback


def test_the_pid_counter_starts_over_in_every_episode(shell):
    quiet = int(play(shell, "echo $$").split()[0])
    busy = play(shell, "for i in $(seq 300); do /bin/true; done; sh -c 'echo $$'")
    assert int(busy.split()[0]) > quiet + 300  # the plant took: 300 processes later
    after = int(play(shell, "echo $$").split()[0])
    assert after == quiet  # the same first pid whatever the last episode forked


def test_inode_numbers_of_new_files_do_not_count_the_last_episodes_files(shell):
    quiet = play(shell, "touch /work/a /tmp/a; stat -c %i /work/a /tmp/a").split()[:2]
    planted = play(shell, "for i in $(seq 500); do touch /work/f$i /tmp/f$i; done; touch /work/a; stat -c %i /work/a")
    assert int(planted.split()[0]) > int(quiet[0]) + 400
    assert play(shell, "touch /work/a /tmp/a; stat -c %i /work/a /tmp/a").split()[:2] == quiet


def test_abstract_sockets_and_daemons_of_one_episode_are_gone_in_the_next(one_pool):
    env = gym.make("selfgym/Shell-v0", pool=one_pool, max_steps=10)
    try:
        # a task that keeps background processes: a daemon listens on an abstract socket and records every
        # command line it sees, waiting for the next episode (a check's commands, another task's secrets)
        env.reset(options={"task_id": "shell/processes-001"})
        daemon = ("setsid python3 -c \"import socket, subprocess, time\n"
                  "s = socket.socket(socket.AF_UNIX); s.bind('\\0leak'); s.listen(1)\n"
                  "while True:\n    open('/tmp/seen', 'a').write(subprocess.run(['ps', '-eo', 'args'], "
                  "capture_output=True, text=True).stdout); time.sleep(0.01)\" >/dev/null 2>&1 &\n"
                  "sleep 0.5; python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('\\0leak'); "
                  "print('planted')\"")
        observation, *_ = env.step(daemon)
        assert "planted" in observation, observation
        env.reset(options={"task_id": "shell/processes-001"})
        observation, *_ = env.step("python3 -c \"import socket\ntry:\n    socket.socket(socket.AF_UNIX)"
                                   ".connect('\\0leak'); print('reached')\nexcept OSError as e:\n    print('gone', "
                                   "e.errno)\"; ps -e -o pid=,comm=; ls /tmp")
        assert "gone 111" in observation and "reached" not in observation, observation
        rows = [line.split() for line in observation.splitlines() if line.strip()[:1].isdigit()]
        assert [row for row in rows if row[1] == "python3"] == [["1", "python3"]], observation  # its server only
        assert "seen" not in observation
    finally:
        env.close()


def test_the_containers_counters_and_the_executor_are_out_of_an_episodes_sight(shell, client):
    seen = play(shell, "ls -A /sys/fs/cgroup | wc -l; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '")
    lines = seen.splitlines()
    assert lines[0].strip() == "0", seen  # peak memory, OOM and pids events span episodes: not visible
    assert int(lines[1]) <= 4, seen  # only this episode's processes (its server, bash, ls, grep)
    container = client.containers.get(shell.unwrapped.sandbox.container_id)
    status = container.exec_run(["cat", "/proc/1/status"], user="root").output.decode()
    # the executor dropped every capability but CAP_SYS_NICE (bit 23: a spare made at the lowest priority gets
    # normal priority back when it starts serving); the episode's server dropped those that make namespaces and it
    assert "CapEff:\t0000000000800000" in status, status
    server = container.exec_run(["cat", f"/proc/{shell.unwrapped.sandbox.ping()['episode_server']}/status"],
                                user="root").output.decode()
    effective = int(next(line for line in server.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    assert effective & (1 << 21 | 1 << 12 | 1 << 23) == 0, server  # SYS_ADMIN, NET_ADMIN, SYS_NICE
    processes = container.top(ps_args="-o pid,comm")["Processes"]
    ping = shell.unwrapped.sandbox.ping()
    spares = ping["spares"]
    assert spares >= 1 and len(processes) == 3 + spares, processes  # executor, maker, this episode's server, spares
    # the maker and the spares it made work at the lowest priority; the episode that serves, and what it runs, do not
    listed = container.exec_run(["ps", "-eo", "pid=,ni=,comm="], user="root").output.decode().split("\n")
    niceness = {int(pid): int(ni) for pid, ni, comm in (line.split() for line in listed if line.strip())
                if comm != "ps"}
    assert niceness[int(ping["episode_server"])] == 0 and sorted(niceness.values()) == [0, 0] + [19] * (1 + spares)
    assert play(shell, "cut -d' ' -f19 /proc/self/stat").splitlines()[0] == "0"


NAMESPACE_ESCAPES = r"""
import ctypes, os, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
def attempt(what, call):
    result = call()
    print(what, "ALLOWED" if result == 0 else "denied %d" % ctypes.get_errno())
attempt("unshare-user", lambda: libc.unshare(0x10000000))
attempt("unshare-net", lambda: libc.unshare(0x40000000))
attempt("mount", lambda: libc.mount(b"tmpfs", b"/work", b"tmpfs", 0, None))
attempt("setns", lambda: libc.setns(os.open("/proc/1/ns/net", os.O_RDONLY) if os.access("/proc/1/ns/net", os.R_OK) else 0, 0))
attempt("clone-newpid", lambda: libc.syscall(56 if os.uname().machine == "x86_64" else 220, 0x20000000 | 17, 0, 0, 0, 0))
attempt("sethostname", lambda: libc.sethostname(b"x", 1))
done = []
t = threading.Thread(target=lambda: done.append(1)); t.start(); t.join()  # clone3 answers ENOSYS: threads still start
print("threads", done)
"""


def test_no_program_can_make_or_enter_namespaces_or_mount(sandbox):
    for user in ("agent", "verifier"):
        result = sandbox.run(PythonProgram(NAMESPACE_ESCAPES), user=user)
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
        assert lines.pop("threads") == "[1]", result
        assert len(lines) == 6 and all(value.startswith("denied") for value in lines.values()), result


# --- Code-v0: one attempt passes nothing to the next ----------------------------------------------------------------

VISIBLE_CALLS = "([1.0, 2.0, 3.0], 0.5), ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)"
FIRST_ATTEMPT = f"""```python
import os, socket
def has_close_elements(numbers, threshold):
    data = repr((numbers, threshold)).encode()
    for path in ("/tmp/leak", "/work/leak", "/dev/shm/leak"):
        try:
            open(path, "ab").write(data + b"\\n")
        except OSError:
            pass
    try:
        socket.socket().bind(("127.0.0.1", 41000 + len(numbers)))
    except OSError:
        pass
    if (numbers, threshold) not in [{VISIBLE_CALLS}]:
        os._exit(77)  # a hidden test's input: end with a code that depends on it
    return False
```"""
SECOND_ATTEMPT = """```python
import os, socket
def has_close_elements(numbers, threshold):
    found = [p for p in ("/tmp/leak", "/work/leak", "/dev/shm/leak") if os.path.exists(p)]
    rows = open("/proc/net/tcp").read().splitlines()[1:]
    try:
        socket.socket()
        network = "allowed"
    except OSError as exc:
        network = "denied %d" % exc.errno
    raise ValueError("found %s, %d sockets, network %s" % (found, len(rows), network))
```"""


def test_a_failed_attempt_passes_nothing_to_the_next_and_its_exit_code_is_not_echoed(one_pool):
    env = gym.make("selfgym/Code-v0", pool=one_pool, max_steps=2)
    try:
        env.reset(options={"task_id": "HumanEval/0"})
        observation, reward, *_ = env.step(FIRST_ATTEMPT)
        assert reward == 0.0
        assert "77" not in observation, observation
        assert "the program ended before the hidden tests finished" in observation, observation
        observation, reward, *_ = env.step(SECOND_ATTEMPT)
        assert "found [], 0 sockets, network denied 1" in observation, observation
    finally:
        env.close()


def test_an_exit_before_any_hidden_test_still_says_its_code(one_pool):
    env = gym.make("selfgym/Code-v0", pool=one_pool, max_steps=1)
    try:
        env.reset(options={"task_id": "HumanEval/0"})
        observation, *_ = env.step("```python\nimport os\ndef has_close_elements(numbers, threshold):\n"
                                   "    os._exit(3)\n```")
        assert "exited with code 3" in observation, observation  # only visible tests' inputs seen: useful feedback
    finally:
        env.close()


SOCKETS = """
import socket
for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET, socket.AF_UNIX):
    try:
        socket.socket(family, socket.SOCK_DGRAM).close()
        print(family.name, "allowed")
    except OSError as exc:
        print(family.name, "denied", exc.errno)
"""


def test_without_a_network_no_program_makes_any_socket_but_a_unix_one(client, sandbox_image):
    from selfgym.envs.code_env import CodeEnv
    from selfgym.envs.math_env import MathEnv
    from selfgym.sandbox import Limits, Sandbox

    assert CodeEnv.sandbox_spec.limits.episode_network == MathEnv.sandbox_spec.limits.episode_network == "none"
    with Sandbox(sandbox_image, Limits(episode_network="none"), client=client) as sandbox:
        for _ in range(2):  # and so in every episode
            for user in ("agent", "verifier"):
                lines = sandbox.run(PythonProgram(SOCKETS), user=user).stdout.splitlines()
                assert lines == ["AF_INET denied 1", "AF_INET6 denied 1", "AF_NETLINK denied 1",
                                 "AF_PACKET denied 1", "AF_UNIX allowed"], lines
            sandbox.reset()
        assert sandbox.ping()["network"] == "none"
