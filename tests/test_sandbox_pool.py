"""SandboxPool and Sandbox basics on the real engine: commands, files, recycling, threads, leaks, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TIGHT, our_containers
from selfgym.sandbox import Limits, Sandbox, SandboxError, SandboxLostError, SandboxPool, reap

pytestmark = pytest.mark.docker


def test_run_reports_exit_code_output_stdin_cwd_env(sandbox):
    result = sandbox.run("read x; echo \"$x $GREETING $(pwd)\"; echo oops >&2; exit 3",
                         stdin="hello\n", env={"GREETING": "bonjour"})
    assert (result.exit_code, result.stdout, result.stderr) == (3, "hello bonjour /work\n", "oops\n")
    assert not (result.timed_out or result.oom_killed or result.truncated or result.ok)
    argv = sandbox.run(["python3", "-c", "import sys; print(sys.argv[1:])", "a b", "$HOME"])
    assert argv.stdout == "['a b', '$HOME']\n"  # an argv list runs without a shell
    sandbox.write_files({"sub/dir/x.txt": "in sub"})
    assert sandbox.run("cat x.txt", cwd="/work/sub/dir").stdout == "in sub"
    assert sandbox.run(["no-such-program"]).exit_code == 127


def test_files_round_trip_and_binary_output_is_decoded_safely(sandbox):
    blob = bytes(range(256)) * 100
    sandbox.write_files({"data.bin": blob, "script.py": "print('ok')\n"})
    assert sandbox.read_file("data.bin") == blob
    assert sandbox.run("python3 script.py").stdout == "ok\n"
    junk = sandbox.run("printf '\\xff\\xfe caf\\xc3\\xa9'")
    assert junk.stdout.endswith(" café")  # invalid bytes become U+FFFD, valid UTF-8 survives
    with pytest.raises(SandboxError, match="Could not read"):
        sandbox.read_file("missing.txt")


def test_background_processes_die_with_their_command_unless_kept(sandbox):
    sandbox.run("sleep 300 &")
    assert sandbox.run("pgrep -c sleep").stdout.strip() == "0"
    sandbox.run("sleep 300 &", keep_background=True)
    assert sandbox.run("pgrep -c sleep", keep_background=True).stdout.strip() == "1"
    sandbox.reset()
    assert sandbox.run("pgrep -c sleep").stdout.strip() == "0"


def test_release_resets_the_sandbox(client, sandbox_image):
    with SandboxPool(sandbox_image, size=1, limits=TIGHT, client=client) as pool:
        with pool.acquire() as sb:
            first = sb.container_id
            sb.run("echo secret > /work/left.txt; echo t > /tmp/t; chmod 000 /work; sleep 100 &", keep_background=True)
        with pool.acquire() as sb:
            assert sb.container_id == first  # recycled, not replaced
            state = sb.run("ls -A /work /tmp; pgrep -c sleep")
            assert "left.txt" not in state.stdout and "t\n" not in state.stdout
            assert state.stdout.strip().endswith("0")


def test_dead_container_is_replaced(client, sandbox_image):
    with SandboxPool(sandbox_image, size=1, limits=TIGHT, client=client) as pool:
        with pool.acquire() as sb:
            client.api.kill(sb.container_id)  # the container dies under us, of no doing of the command
            with pytest.raises(SandboxLostError, match="died"):
                sb.run("echo hi")
            assert not sb.alive
            dead = sb.container_id
        with pool.acquire(timeout=60) as sb:
            assert sb.container_id != dead
            assert sb.run("echo back").stdout == "back\n"
        assert pool.stats.replaced == 1


def test_a_failed_replacement_is_tried_once_then_by_the_next_acquire(client, sandbox_image, monkeypatch):
    import selfgym.sandbox.pool as pool_module

    starts = []

    def failing_once(*args, **kwargs):  # the engine refuses the replacement's start, then recovers
        starts.append(time.monotonic())
        if len(starts) == 1:
            raise SandboxError("the engine refused to start a container")
        return Sandbox(*args, **kwargs)

    with SandboxPool(sandbox_image, size=1, limits=TIGHT, client=client) as pool:
        monkeypatch.setattr(pool_module, "Sandbox", failing_once)
        with pool.acquire() as sb:
            client.api.kill(sb.container_id)
            dead = sb.container_id
        deadline = time.monotonic() + 60
        while pool._replace_error is None and time.monotonic() < deadline:  # the replacer tried
            time.sleep(0.05)
        time.sleep(1.0)  # a retry with backoff (it used to try 3 times, each start 3 times) would be under way now
        assert len(starts) == 1 and pool.stats.replaced == 0
        with pool.acquire(timeout=60) as sb:  # the slot was handed back: this acquire starts it
            assert sb.container_id != dead and sb.run("echo back").stdout == "back\n"
        assert len(starts) == 2


def test_a_container_killed_while_it_starts_is_a_loss_and_another_starts(client, sandbox_image, monkeypatch):
    # a `docker kill` that lands before the executor greeted used to fail the whole acquire ("did not start")
    with SandboxPool(sandbox_image, size=1, limits=TIGHT, client=client, warm=0) as pool:
        start, killed = pool.client.api.start, []

        def start_and_kill_the_first(container, *args, **kwargs):
            start(container, *args, **kwargs)
            if not killed:
                killed.append(container)
                pool.client.api.kill(container)

        monkeypatch.setattr(pool.client.api, "start", start_and_kill_the_first)
        with pool.acquire(timeout=60) as sb:
            assert killed and sb.container_id != killed[0]
            assert sb.run("echo up").stdout == "up\n"


def test_threads_get_distinct_sandboxes_and_acquire_times_out(client, sandbox_image):
    with SandboxPool(sandbox_image, size=3, limits=TIGHT, client=client) as pool:
        held: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(3)

        def use():
            with pool.acquire(timeout=30) as sb:
                with lock:
                    held.append(sb.container_id)
                barrier.wait(timeout=30)  # all three hold one at the same moment

        with ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda _: use(), range(3)))
        assert len(set(held)) == 3
        with pool.acquire(), pool.acquire(), pool.acquire():
            with pytest.raises(TimeoutError, match="No sandbox became free"):
                with pool.acquire(timeout=0.3):
                    pass
    with pytest.raises(SandboxError, match="closed"):
        with pool.acquire():
            pass
    pool.close()  # idempotent


def test_500_cycles_leak_no_container(client, sandbox_image):
    with SandboxPool(sandbox_image, size=2, limits=TIGHT, client=client) as pool:
        def cycles(n: int) -> int:
            ok = 0
            for i in range(n):
                with pool.acquire() as sb:
                    ok += sb.run(["python3", "-c", f"print({i} * 2)"]).stdout == f"{i * 2}\n"
            return ok

        with ThreadPoolExecutor(2) as ex:
            assert sum(ex.map(cycles, [250, 250])) == 500
        assert pool.stats.acquired == 500 and pool.stats.started == 2
        pool_id = pool.id
    assert our_containers(client, **{"selfgym.pool": pool_id}) == []


CRASHING_OWNER = textwrap.dedent("""
    import sys
    from selfgym.sandbox import Limits, Sandbox, SandboxPool
    pool = SandboxPool(sys.argv[1], size=2, limits=Limits(timeout_s=600))
    with pool.acquire() as sb:
        print(pool.id, flush=True)
        sb.run("sleep 600")
""")


def _start_owner(sandbox_image: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_OWNER, sandbox_image], stdout=subprocess.PIPE, text=True)
    pool_id = proc.stdout.readline().strip()
    assert pool_id, "the owner process did not start its pool"
    time.sleep(0.3)  # let it enter run()
    return proc, pool_id


def test_sigkilled_owner_leaves_nothing_after_a_reap(client, sandbox_image):
    proc, pool_id = _start_owner(sandbox_image)
    assert len(our_containers(client, **{"selfgym.pool": pool_id})) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reap(client)
    assert our_containers(client, **{"selfgym.pool": pool_id}) == []


def test_sigterm_closes_the_pool(client, sandbox_image):
    proc, pool_id = _start_owner(sandbox_image)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM  # still dies of SIGTERM, after cleaning up
    assert our_containers(client, **{"selfgym.pool": pool_id}) == []


def test_reap_spares_living_owners(client, sandbox_image, sandbox):
    assert reap(client) >= 0
    assert sandbox.alive and sandbox.run("echo alive").stdout == "alive\n"
    # A container labelled with a dead owner is removed.
    orphan = client.containers.create(sandbox_image, ["sleep", "600"], labels={
        "selfgym.sandbox": "1", "selfgym.owner.host": os.uname().nodename, "selfgym.owner.pid": "999999999",
        "selfgym.owner.started": "0"}, network_disabled=True)
    try:
        assert reap(client) >= 1
        assert our_containers(client, **{"selfgym.owner.pid": "999999999"}) == []
    finally:
        try:
            orphan.remove(force=True)
        except Exception:
            pass


def test_limits_validate_with_clear_messages():
    with pytest.raises(ValueError, match="memory_mb must be a positive number"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="pids must be at least 8"):
        Limits(pids=2)
    with pytest.raises(ValueError, match="timeout_s"):
        Limits(timeout_s=-1)
    with pytest.raises(ValueError, match=r"memory_mb >= 320 or disk_mb <= 96"):
        Limits(memory_mb=256)  # two 128 MiB tmpfs would leave the executor no memory
    with pytest.raises(ValueError, match="runtime"):
        Limits(runtime="")


@pytest.mark.docker
def test_an_unknown_runtime_is_one_clear_error(client, sandbox_image):
    with pytest.raises(SandboxError, match=r"no runtime 'no-such-runtime'.*daemon.json") as caught:
        Sandbox(sandbox_image, Limits(runtime="no-such-runtime"), client=client)
    assert "Traceback" not in str(caught.value) and "400 Client Error" not in str(caught.value)


@pytest.mark.docker
def test_forked_child_terminated_leaves_parent_pool_alone(client, sandbox_image):
    import multiprocessing

    with SandboxPool(sandbox_image, size=1, client=client) as pool:
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
        child.start()
        time.sleep(0.2)
        child.terminate()  # SIGTERM: our handler runs in the child too
        child.join(10)
        with pool.acquire(timeout=10) as sandbox:
            assert sandbox.run("echo alive").stdout == "alive\n"


@pytest.mark.docker
def test_no_socket_is_left_unclosed_when_a_sandbox_dies_or_closes(client, sandbox_image):
    import gc
    import warnings

    gc.collect()  # what earlier tests left for the collector (their own clients' sockets) is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        sandbox = Sandbox(sandbox_image, TIGHT, client=client)
        sandbox.run("true")
        client.api.kill(sandbox.container_id)  # lost under us: its attach socket must still be closed
        with pytest.raises(SandboxLostError):
            sandbox.run("true")
        del sandbox
        with SandboxPool(sandbox_image, size=1, limits=TIGHT, client=client) as pool, pool.acquire() as held:
            held.run("true")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


@pytest.mark.docker
def test_an_env_left_open_at_exit_closes_quietly(sandbox_image):
    script = ("import gymnasium as gym, selfgym\n"
              f"env = gym.make('selfgym/Shell-v0', image={sandbox_image!r}, max_steps=2, disable_env_checker=False)\n"
              "env.reset(seed=0)\nenv.step('ls')\n")  # no close: atexit and the garbage collector do it
    result = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-c", script], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Exception ignored" not in result.stderr and "ResourceWarning" not in result.stderr, result.stderr


@pytest.mark.docker
def test_a_pool_can_start_its_containers_on_demand(client, sandbox_image):
    with SandboxPool(sandbox_image, size=2, limits=TIGHT, client=client, warm=0) as pool:
        assert pool.stats.started == 0 and not our_containers(client, **{"selfgym.pool": pool.id})
        with pool.acquire(timeout=60) as first, pool.acquire(timeout=60) as second:
            assert first is not second and pool.stats.started == 2
        with pool.acquire(timeout=60):
            assert pool.stats.started == 2  # released ones are reused; no more than size ever start
    with pytest.raises(ValueError, match="warm must be between 0 and size"):
        SandboxPool(sandbox_image, size=2, warm=3, client=client)
