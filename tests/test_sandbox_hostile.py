"""Hostile programs against the real Docker engine: each one is contained, reported, and leaves the sandbox usable."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest

from conftest import TIGHT

pytestmark = pytest.mark.docker


def assert_usable(sb) -> None:
    """The container answers, runs a fresh command, and its episode holds no process but its server (PID 1 there)."""
    assert sb.alive
    sb.ping()
    result = sb.run("echo still-here; ps -e -o pid= | tr -d ' ' | grep -vx 1 | wc -l", timeout_s=5)
    assert result.ok, result
    lines = result.stdout.split()
    assert lines[0] == "still-here"
    # bash, ps, tr, grep and wc: nothing left over from the hostile program
    assert int(lines[1]) <= 5, result.stdout


def test_infinite_loop_times_out_and_kills_the_whole_tree(sandbox):
    # A detached grandchild (setsid) leaves the process group; the timeout must get it too.
    result = sandbox.run("setsid sleep 1000 & python3 -c 'while True: pass'", timeout_s=1.0)
    assert result.timed_out and not result.ok
    assert result.exit_code == 137  # SIGKILL
    assert 1.0 <= result.duration_s < 3.0
    assert_usable(sandbox)


def test_fork_bomb_hits_the_pids_limit(sandbox):
    result = sandbox.run(":(){ :|:& };:", timeout_s=3.0)
    assert result.pids_limited
    assert_usable(sandbox)


def test_python_fork_bomb_is_also_contained(sandbox):
    result = sandbox.run(["python3", "-c", "import os\nwhile True:\n    os.fork()"], timeout_s=3.0)
    assert result.pids_limited or result.timed_out
    assert_usable(sandbox)


def test_memory_bomb_is_oom_killed_not_the_executor(sandbox):
    result = sandbox.run(["python3", "-c", "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"])
    assert result.oom_killed
    assert result.exit_code == 137
    assert_usable(sandbox)


def test_a_gigabyte_of_output_is_truncated(sandbox):
    result = sandbox.run("head -c 1000000000 /dev/zero | tr '\\0' x; echo END >&2", timeout_s=30)
    assert result.truncated
    assert result.exit_code == 0 and not result.timed_out
    assert len(result.stdout) < TIGHT.max_output_bytes + 4096 + 100
    assert "bytes truncated" in result.stdout
    assert result.stdout.endswith("x")  # the tail is kept
    assert result.stderr == "END\n"
    assert_usable(sandbox)


def test_filling_the_disk_stops_at_the_tmpfs_limit_and_reset_frees_it(sandbox):
    result = sandbox.run("dd if=/dev/zero of=/work/fill bs=1M count=1000")
    assert result.disk_full and result.exit_code != 0
    assert "No space left on device" in result.stderr
    size = int(sandbox.run("stat -c %s /work/fill").stdout)
    assert size <= TIGHT.disk_mb * 1024 * 1024
    sandbox.reset()
    after = sandbox.run("ls -A /work | wc -l; echo ok > /work/new && cat /work/new")
    assert after.stdout.split() == ["0", "ok"]
    assert not after.disk_full


def test_no_network_not_even_the_hosts_loopback(sandbox):
    # A server on the host's loopback: inside the container 127.0.0.1 is the container's own, so it is unreachable.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        code = (
            "import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print('refused', e.errno)\n"
        )
        result = sandbox.run(["python3", "-c", code])
        assert result.stdout.startswith("refused"), result
        interfaces = sandbox.run("ls /sys/class/net").stdout.split()
        assert interfaces == ["lo"]
        routes = sandbox.run("tail -n +2 /proc/net/route | wc -l").stdout.strip()
        assert routes == "0"  # no route anywhere: no packet can leave
    finally:
        server.close()


def test_host_files_are_out_of_reach(sandbox, tmp_path):
    marker = tmp_path / f"host-secret-{uuid.uuid4().hex}"
    marker.write_text("secret")
    result = sandbox.run(f"cat /etc/shadow; ls {marker}; touch /usr/evil; id -u")
    assert "Permission denied" in result.stderr  # /etc/shadow is the image's, and we are not root
    assert "No such file" in result.stderr  # the host's files are not there
    assert "Read-only file system" in result.stderr  # the root is read-only
    assert result.stdout.strip() == "1000"
    status = sandbox.run("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status").stdout
    assert "CapEff:\t0000000000000000" in status
    assert "NoNewPrivs:\t1" in status
    # Of the host's disk, only Docker's per-container /etc files are mounted: no host directory.
    list_disk_mounts = (
        "for line in open('/proc/self/mountinfo'):\n"
        "    fields, fs = line.split(' - ')\n"
        "    if fs.split()[0] not in ('overlay', 'tmpfs', 'proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'mqueue'):\n"
        "        print(fields.split()[4])\n"
    )
    disk_mounts = sandbox.run(["python3", "-c", list_disk_mounts]).stdout.split()
    assert disk_mounts and set(disk_mounts) <= {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}, disk_mounts


def test_kill_everything_from_inside_does_not_kill_the_sandbox(sandbox):
    result = sandbox.run("sleep 100 & kill -9 -1; echo after-kill")
    assert "after-kill" in result.stdout
    assert sandbox.ping()["pid"] == 1
    assert_usable(sandbox)


def test_the_host_stays_responsive_during_a_cpu_bomb(sandbox):
    # Many busy processes under a 1-CPU quota: a host thread keeps ticking on time.
    ticks: list[float] = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        result = sandbox.run("for i in $(seq 16); do (while :; do :; done) & done; wait", timeout_s=2)
    finally:
        stop.set()
        thread.join()
    assert result.timed_out
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 0.5, max(gaps)
    assert os.getloadavg()[0] < 64
    assert_usable(sandbox)
