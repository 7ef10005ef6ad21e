"""Forks over ``selfgym env-server`` (Remote-v0): the ``snapshot`` / ``restore`` messages, against a real server
process and its real sandboxes; the state stays on the server and a snapshot id is the only way to it."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from env_servers import env_server
from websockets.sync.client import connect

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.remote.client import RemoteEnv

pytestmark = pytest.mark.docker

TASK = {"id": "fork/1", "family": "shell", "prompt": "Write yes to /work/answer.",
        "data": {"category": "files", "setup": "echo hidden-seed > /tmp/.seed",
                 "check": "[ \"$(cat /work/answer)\" = yes ]", "solution": ["echo yes > answer", "submit"]}}


def exchange(ws, message: dict) -> dict:
    ws.send(json.dumps(message))
    return json.loads(ws.recv(timeout=60))


def test_a_remote_fork_branches_on_the_server_and_plays_as_from_scratch_and_ids_are_capabilities():
    # two sandboxes: a parent and its fork hold both
    with env_server("selfgym/Shell-v0", "--max-sessions", "4", "--pool-size", "2", "--sandbox-wait", "3",
                    "--allow-custom-tasks") as server:
        parent = gym.make("selfgym/Remote-v0", url=server.url).unwrapped
        scratch = RemoteEnv(server.url)
        try:
            parent.reset(options={"task": TASK})
            parent.step("cd /work && export WORD=yes && echo partial > answer")
            snapshot = parent.clone_state()
            child = parent.fork()
            try:
                seen = child.step("pwd; echo $WORD; cat answer")
                assert seen[0].startswith("/work\nyes\npartial\n")
                parent.step("echo no > answer")  # the parent's branch does not reach the child's sandbox
                child.step("echo $WORD > answer")
                assert child.step("submit")[1:3] == (1.0, True)
                assert parent.step("submit")[1:3] == (0.0, True)
                assert child.transcript[:3] == parent.transcript[:3] and len(child.transcript) == 9
            finally:
                child.close()
            # the same actions from scratch give what the fork gave
            scratch.reset(options={"task": TASK})
            scratch.step("cd /work && export WORD=yes && echo partial > answer")
            assert scratch.step("pwd; echo $WORD; cat answer")[0] == seen[0]
            # the parent goes back to its snapshot, ended episode and all
            parent.restore_state(snapshot)
            assert not parent.done and parent.state()["step_count"] == 1
            assert parent.step("echo $WORD > answer; submit")[1] == 0.0  # `submit` is not a command here...
            assert parent.step("submit")[1] == 1.0  # ...but its own action
        finally:
            parent.close()
            scratch.close()
        assert server.wait_for(lambda s: s["sessions"] == 0)["sandboxes_in_use"] == 0
        snapshot_ids_are_the_only_way_to_a_state_and_go_with_their_session(server)


def snapshot_ids_are_the_only_way_to_a_state_and_go_with_their_session(server) -> None:
    """(on the server of the test above: one server start for both)"""
    ws = server.url.replace("http://", "ws://") + "/ws"
    with connect(ws, proxy=None) as a, connect(ws, proxy=None) as b:
        assert exchange(a, {"type": "snapshot"})["data"]["code"] == "EXECUTION_ERROR"  # nothing to save yet
        exchange(a, {"type": "reset", "data": {"task": TASK}})
        made = exchange(a, {"type": "snapshot"})
        assert made["type"] == "snapshot" and len(made["data"]["snapshot_id"]) == 32
        assert "hidden-seed" not in json.dumps(made) and "check" not in json.dumps(made)  # the state stays there
        for bad in ({"snapshot_id": "0" * 32}, {"snapshot_id": ""}, {"snapshot_id": "x", "more": 1}, {}):
            answer = exchange(b, {"type": "restore", "data": bad})
            assert answer["data"]["code"] == "VALIDATION_ERROR", (bad, answer)
        forged = exchange(b, {"type": "snapshot", "session_id": "x"})  # no field names another session
        assert forged["data"]["code"] == "VALIDATION_ERROR"
        restored = exchange(b, {"type": "restore", "data": {"snapshot_id": made["data"]["snapshot_id"]}})
        assert restored["type"] == "state" and restored["data"]["task_id"] == "fork/1"
        assert "hidden-seed" in exchange(b, {"type": "step", "data": {"text": "cat /tmp/.seed"}})["data"][
            "observation"]["text"]
        # a and b hold both sandboxes: a restore queues at the sandbox gate like a reset (it used to take one from
        # the pool past the gate, and wait there without bound)
        with connect(ws, proxy=None) as c:
            restore = {"type": "restore", "data": {"snapshot_id": made["data"]["snapshot_id"]}}
            assert exchange(c, restore)["data"]["code"] == "CAPACITY_REACHED"
            b.close()
            assert exchange(c, restore)["type"] == "state"
    server.wait_for(lambda s: s["sessions"] == 0)
    # a's session ended: its snapshots went with it
    with connect(ws, proxy=None) as c:
        gone = exchange(c, {"type": "restore", "data": {"snapshot_id": made["data"]["snapshot_id"]}})
        assert gone["data"]["code"] == "VALIDATION_ERROR"


def test_a_client_says_why_it_cannot_snapshot_before_reset():
    env = RemoteEnv("http://127.0.0.1:9")
    with pytest.raises(gym.error.ResetNeeded):
        env.clone_state()
    with pytest.raises(TypeError, match="RemoteSnapshot"):
        env.restore_state({"snapshot_id": "x"})
