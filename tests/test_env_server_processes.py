"""``selfgym env-server --processes N``: several server processes on one port, against a real server subprocess and
real WebSocket clients (which process holds a session is read from the kernel's socket table, not from the
server's word)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from urllib.parse import urlsplit

import psutil
from websockets.sync.client import connect

from env_servers import ServerProcess, env_server
from load_client import run_sessions
from selfgym.envs.remote.processes import ProcessPlace, SessionCounts

MATH = '{"tools": false, "max_steps": 1}'
ANSWER = {"text": "\\boxed{\\frac{1}{3}}"}  # judged by the math verifier's worker processes


def server_processes(server: ServerProcess) -> list[psutil.Process]:
    """The server processes: the supervisor's children (the verifier's workers are theirs)."""
    return psutil.Process(server.process.pid).children()


def serving_pid(server: ServerProcess, client_port: int) -> int | None:
    """The server process holding the other end of the client's connection from ``client_port``."""
    port = urlsplit(server.url).port
    for process in server_processes(server):
        for connection in process.net_connections(kind="tcp"):
            if connection.laddr.port == port and connection.raddr and connection.raddr.port == client_port:
                return process.pid
    return None


def whole_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def gone(processes: list[psutil.Process], timeout_s: float) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_sessions_spread_over_processes_share_one_limit_and_snapshots_survive_a_dead_child_and_stop_together(
        tmp_path):
    store = tmp_path / "curriculum.db"  # every process serves one curriculum run from the store (made once)
    with env_server("selfgym/Math-v0", "--processes", "2", "--max-sessions", "16", "--pool-size", "5",
                    "--curriculum", "uniform", "--curriculum-db", str(store), "--env-kwargs", MATH) as server:
        children = server_processes(server)
        assert len(children) == 2
        uri = server.url.replace("http://", "ws://") + "/ws"
        held: dict = {}

        def while_held() -> None:  # all 16 sessions open: where they are, and the shared limit
            held["stats"] = server.sessions()
            held["pids"] = {pid for client in clients_ports() for pid in [serving_pid(server, client)]}
            with connect(uri, proxy=None) as extra:  # whichever process takes it, the 17th is refused
                held["extra"] = json.loads(extra.recv(timeout=60))

        def clients_ports() -> list[int]:
            me = psutil.Process()
            port = urlsplit(server.url).port
            return [c.laddr.port for c in me.net_connections(kind="tcp")
                    if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]

        records = asyncio.run(asyncio.wait_for(run_sessions(server.url, 16, action=lambda o: ANSWER, episodes=1,
                                                            while_held=while_held), timeout=300))
        assert [r.errors for r in records if r.errors] == []
        assert all(r.episodes == 1 for r in records)
        assert held["pids"] == {child.pid for child in children}  # sessions landed on both processes
        assert sum(held["stats"]["sessions_per_process"]) == 16
        assert held["extra"]["type"] == "error" and held["extra"]["data"]["code"] == "CAPACITY_REACHED"

        # --pool-size is split over the processes (3 + 2); each process answers /sessions for itself
        pool_sizes = {}
        for _ in range(200):
            stats = server.sessions()
            pool_sizes[stats["pid"]] = stats["pool_size"]
            if len(pool_sizes) == 2:
                break
        assert sorted(pool_sizes.values()) == [2, 3]

        # a snapshot saved in one process is restored by a session that landed on the other (a fork)
        with connect(uri, proxy=None) as parent:
            parent.send(json.dumps({"type": "reset", "data": {"seed": 3}}))
            assert json.loads(parent.recv(timeout=60))["type"] == "observation"
            parent.send(json.dumps({"type": "snapshot"}))
            snapshot_id = json.loads(parent.recv(timeout=60))["data"]["snapshot_id"]
            parent_pid = serving_pid(server, parent.socket.getsockname()[1])
            for _ in range(64):
                with connect(uri, proxy=None) as fork:
                    if serving_pid(server, fork.socket.getsockname()[1]) == parent_pid:
                        continue
                    fork.send(json.dumps({"type": "restore", "data": {"snapshot_id": snapshot_id}}))
                    restored = json.loads(fork.recv(timeout=60))
                    assert restored["type"] == "state", restored
                    fork.send(json.dumps({"type": "step", "data": ANSWER}))
                    stepped = json.loads(fork.recv(timeout=60))
                    assert stepped["type"] == "observation" and stepped["data"]["done"] is True, stepped
                    break
            else:
                raise AssertionError("64 connections all landed on the parent's process")

        # a killed child is replaced (its slots freed); the other serves meanwhile: sessions play on
        victim = children[0]
        victim_workers = victim.children(recursive=True)
        victim.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 60
        while victim.pid in {p.pid for p in server_processes(server)} or len(server_processes(server)) < 2:
            assert time.monotonic() < deadline, "no process was started in place of the killed one"
            time.sleep(0.1)
        assert gone(victim_workers, timeout_s=30)  # the dead child's verifier workers went with it
        records = asyncio.run(asyncio.wait_for(run_sessions(server.url, 8, action=lambda o: ANSWER, episodes=1),
                                               timeout=300))
        assert [r.errors for r in records if r.errors] == [] and all(r.episodes == 1 for r in records)
        stats = server.wait_for(lambda s: sum(s["sessions_per_process"]) == 0)
        assert sum(stats["sessions_per_process"]) == 0

        # SIGTERM stops every process, workers included, within the grace period (and a little)
        tree = whole_tree(server.process.pid)
        with connect(uri, proxy=None) as open_session:
            open_session.send(json.dumps({"type": "reset", "data": {}}))
            open_session.recv(timeout=60)
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 0
        assert time.monotonic() - started < 15
        assert gone(tree, timeout_s=10)
    with sqlite3.connect(store) as db:  # both processes chose tasks and recorded outcomes in the one run
        rows = db.execute("SELECT COUNT(*), COUNT(DISTINCT server), COUNT(DISTINCT run_id) FROM outcomes").fetchone()
    # 16 + the fork's + 8 episodes, from both processes (and the replaced child's, when the kernel gave it some)
    assert rows[0] >= 24 and rows[1] in (2, 3) and rows[2] == 1


def test_session_counts_hold_one_limit_over_processes_and_a_place_splits_sandboxes():
    counts = SessionCounts(2)
    assert [counts.take(i % 2, limit=3) for i in range(4)] == [True, True, True, False]
    assert counts.per_process() == [2, 1]
    counts.give(0)
    assert counts.take(1, limit=3) and counts.per_process() == [1, 2]
    counts.clear(1)  # process 1 died
    assert counts.per_process() == [1, 0]
    pid = os.fork()  # the counts are shared memory: a child's session counts for the parent too
    if pid == 0:
        os._exit(0 if counts.take(1, limit=3) else 1)
    assert os.waitpid(pid, 0)[1] == 0 and counts.per_process() == [1, 1]
    shares = [ProcessPlace(i, 3, counts, None).share(8) for i in range(3)]
    assert shares == [3, 3, 2] and ProcessPlace(2, 3, counts, None).share(1) == 1  # at least one each
