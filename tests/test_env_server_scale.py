"""``selfgym env-server`` at scale: thousands of sessions on one process, a server at its limit, clients that
vanish, sandboxes shared first come first served (see ``benchmarks/env_server_load.py`` for the 10,000-session
run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal

import pytest
from websockets.sync.client import connect

from env_servers import env_server
from load_client import raise_open_files_limit, run_sessions
from selfgym.envs.remote.fair import FairGate, GateTimeout

MATH = '{"tools": false, "max_steps": 1}'


def test_2048_sessions_each_finish_an_episode_a_full_server_says_so_and_dropped_sessions_are_freed():
    sessions = 2048
    raise_open_files_limit(2 * sessions + 1024)  # this process holds every client socket
    with env_server("selfgym/Math-v0", "--max-sessions", str(sessions), "--env-kwargs", MATH) as server:
        held: dict = {}

        def at_the_limit() -> None:
            held.update(server.sessions())
            with connect(server.url.replace("http://", "ws://") + "/ws", proxy=None) as extra:
                held["extra"] = json.loads(extra.recv(timeout=60))

        # \frac goes to the math verifier's processes (a plain number would not): a server holding > 2,048
        # sockets judges through pipes numbered above 1,023
        records = asyncio.run(asyncio.wait_for(run_sessions(
            server.url, sessions, action=lambda observation: {"text": "\\boxed{\\frac{1}{3}}"}, episodes=1,
            drop=lambda index: index % 2 == 0, while_held=at_the_limit), timeout=600))
        assert [r.errors for r in records if r.errors] == []
        assert all(r.episodes == 1 for r in records)
        assert held["sessions"] == sessions and held["episodes"] == sessions
        assert held["threads"] < 100  # no thread per session
        assert held["extra"]["type"] == "error" and held["extra"]["data"]["code"] == "CAPACITY_REACHED"
        # half the clients vanished without a close frame, half closed: every session is freed
        freed = server.wait_for(lambda s: s["sessions"] == s["starting"] == s["envs_alive"] == 0, timeout_s=120)
        assert (freed["sessions"], freed["starting"], freed["envs_alive"]) == (0, 0, 0)


def test_64_sessions_on_4_sandboxes_are_served_in_turn():
    sessions = 64
    with env_server("selfgym/Code-v0", "--max-sessions", str(sessions), "--pool-size", "4", "--warm", "4",
                    "--sandbox-wait", "300", "--env-kwargs", '{"max_steps": 1}') as server:
        rounds = 2
        records = asyncio.run(asyncio.wait_for(run_sessions(
            server.url, sessions, action=lambda observation: {"text": "def f():\n    return 1\n"},
            episodes=rounds), timeout=600))
        assert [r.errors for r in records if r.errors] == []
        assert all(r.episodes == rounds for r in records)
        # first come, first served: all 64 first resets were asked for before any second one, so every session got
        # its first sandbox before any session got its second, but for resets granted at the same moment (fewer
        # than the 4 sandboxes). A reset that took its own sandbox straight back served 4 sessions over and over.
        last_first = max(r.served_at[0] for r in records)
        assert sum(r.served_at[1] < last_first for r in records) < 4
        stats = server.wait_for(lambda s: s["sessions"] == 0 and s["sandboxes_in_use"] == 0)
        assert stats["episodes"] == sessions * rounds
        assert stats["sandboxes"] <= 4 and stats["sandboxes_in_use"] == 0 and stats["waiting_for_sandbox"] == 0
        # SIGINT stops a server with sessions open mid-episode (and one waiting for a sandbox): they are closed
        uri = server.url.replace("http://", "ws://") + "/ws"
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(connect(uri, proxy=None)) for _ in range(5)]
            for client in clients[:4]:
                client.send(json.dumps({"type": "reset", "data": {}}))
                assert json.loads(client.recv(timeout=120))["type"] == "observation"
            clients[4].send(json.dumps({"type": "reset", "data": {}}))  # waits: all 4 sandboxes are held
            server.wait_for(lambda s: s["waiting_for_sandbox"] == 1)
            server.process.send_signal(signal.SIGINT)
            assert server.process.wait(timeout=120) == 0


# --- the gate, on its own -------------------------------------------------------------------------------------


def test_the_gate_serves_in_order_bounds_waits_and_loses_no_place():
    async def scenario() -> None:
        gate = FairGate(1)
        await gate.acquire(None)
        order = []

        async def waiter(name: str) -> None:
            await gate.acquire(5)
            order.append(name)
            await asyncio.sleep(0)
            gate.release()

        tasks = [asyncio.ensure_future(waiter(name)) for name in "abc"]
        await asyncio.sleep(0.01)
        assert gate.waiting == 3
        # a late comer does not jump the queue: the place goes to "a", then "b", "c", and only then to it
        late = asyncio.ensure_future(gate.acquire(5))
        await asyncio.sleep(0.01)
        gate.release()
        await asyncio.gather(*tasks, late)
        assert order == ["a", "b", "c"] and gate.held == 1
        # a bounded wait ends in GateTimeout and leaves the queue
        with pytest.raises(GateTimeout):
            await gate.acquire(0.05)
        assert gate.waiting == 0
        # a waiter cancelled holds nothing; the place goes on to the next
        cancelled = asyncio.ensure_future(gate.acquire(None))
        behind = asyncio.ensure_future(gate.acquire(None))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        gate.release()
        await behind
        assert gate.held == 1 and gate.waiting == 0
        gate.release()
        assert gate.held == 0
        with pytest.raises(RuntimeError):
            gate.release()

    asyncio.run(scenario())


def test_a_server_fault_is_reported_as_the_servers_never_as_the_clients(monkeypatch):
    # what select.select() raised past descriptor 1,023 was a ValueError, once answered VALIDATION_ERROR
    from starlette.testclient import TestClient

    from selfgym.envs.math_env import MathEnv
    from selfgym.envs.remote.server import EnvServer

    def broken(self, task):
        raise ValueError("filedescriptor out of range in select()")

    monkeypatch.setattr(MathEnv, "_begin", broken)
    server = EnvServer("selfgym/Math-v0", env_kwargs={"tools": False}, max_sessions=2)
    with TestClient(server.app) as client, client.websocket_connect("/ws") as ws:
        for data in ({"seed": 0}, {"task_id": next(iter(server._catalog.unwrapped.source)).id}):
            ws.send_json({"type": "reset", "data": data})
            answer = ws.receive_json()["data"]
            assert answer["code"] == "EXECUTION_ERROR" and answer["infrastructure"] is True, answer
        ws.send_json({"type": "reset", "data": {"task_id": "no/such/task"}})  # the client's own mistake
        assert ws.receive_json()["data"]["code"] == "VALIDATION_ERROR"
        ws.send_json({"type": "state"})
        assert ws.receive_json()["type"] == "state"  # the session goes on
