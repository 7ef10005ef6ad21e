"""``selfgym env-server`` against the reference client of OpenEnv's protocol (``openenv-core``'s GenericEnvClient),
each server a real subprocess on the real Docker engine: episodes, concurrency, leaks, and the attacks a client
could try over the network."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time

import gymnasium as gym
import pytest
from env_servers import ROOT, env_server

pytest.importorskip("openenv", reason="openenv-core is a dev dependency (pip install -e .[dev])")
from openenv.core import GenericEnvClient  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

import selfgym  # noqa: E402,F401
from selfgym.envs.remote.wire import OPENENV_VERSION  # noqa: E402

pytestmark = pytest.mark.docker

WRONG = {"selfgym/Code-v0": "```python\ndef nothing():\n    return None\n```",
         "selfgym/Shell-v0": "submit", "selfgym/Math-v0": "The answer is \\boxed{-123456789}."}
TASKS = {"selfgym/Code-v0": ["HumanEval/0", "HumanEval/2"],
         "selfgym/Shell-v0": ["shell/archives-001", "shell/build-001"],
         "selfgym/Math-v0": ["basic_arithmetic/L0/s0/0", "lcm/L0/s0/1"]}


def local_task(env_id: str, task_id: str):
    env = gym.make(env_id)
    try:
        return env.unwrapped.source.get(task_id), type(env.unwrapped)
    finally:
        env.close()


def test_the_reference_client_is_the_version_we_verified_against():
    from importlib.metadata import version

    assert version("openenv-core") == OPENENV_VERSION


@pytest.mark.parametrize("env_id", list(TASKS))
def test_openenv_client_plays_reference_and_wrong_solutions(env_id):
    one_attempt = ["--env-kwargs", '{"max_steps": 1}'] if env_id == "selfgym/Code-v0" else []
    with env_server(env_id, "--max-sessions", "2", *one_attempt) as server:
        client = GenericEnvClient(base_url=server.url).sync()
        with client:
            for task_id in TASKS[env_id]:
                task, env_class = local_task(env_id, task_id)
                for actions, expected in ((env_class.reference_actions(task), 1.0), ([WRONG[env_id]], 0.0)):
                    result = client.reset(task_id=task_id, episode_id=f"{task_id}-{expected}")
                    assert result.observation["task"]["id"] == task_id and not result.done
                    assert "data" not in result.observation["task"]  # hidden tests and answers stay on the server
                    assert result.observation["tools"], "the tools an agent may call come with the first observation"
                    for action in actions:
                        result = client.step({"text": action})
                    assert result.done and result.reward == expected, result.observation["text"]
                    state = client.state()
                    assert state["episode_id"] == f"{task_id}-{expected}" and state["step_count"] == len(actions)
                    assert state["task_id"] == task_id and state["done"]
        assert server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == 0)["envs_alive"] == 0


def test_sixteen_concurrent_sessions_leave_nothing_behind(client):
    """16 clients at once on one server (one shared pool), each a whole Code-v0 episode; after they disconnect no
    session, env or sandbox is left in use, and stopping the server removes every container it started."""
    with env_server("selfgym/Code-v0", "--max-sessions", "16") as server:
        task, env_class = local_task("selfgym/Code-v0", "HumanEval/0")
        action = env_class.reference_actions(task)[0]
        rewards, started = [], threading.Barrier(16)

        def play(i: int) -> None:
            with GenericEnvClient(base_url=server.url, message_timeout_s=300).sync() as session:
                session.reset(task_id="HumanEval/0")
                started.wait(timeout=300)  # all 16 sessions are open at once
                rewards.append(session.step({"text": action}).reward)

        threads = [threading.Thread(target=play, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        busy = server.wait_for(lambda s: s["sessions"] == 16, timeout_s=300)
        assert busy["sessions"] == 16 and busy["envs_alive"] >= 16
        for thread in threads:
            thread.join(timeout=300)
        assert rewards == [1.0] * 16
        stats = server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == s["sandboxes_in_use"] == 0)
        assert stats == {**stats, "sessions": 0, "starting": 0, "envs_alive": 0, "sandboxes_in_use": 0}
        assert 1 <= stats["sandboxes"] <= 16  # warm in the pool for the next sessions, no more
        pid = server.process.pid
    assert not our_server_containers(client, pid)


def our_server_containers(client, pid: int) -> list:
    return client.containers.list(all=True, filters={"label": [f"selfgym.owner.pid={pid}"]}, ignore_removed=True)


def test_a_killed_client_frees_its_session_and_a_full_server_says_so():
    with env_server("selfgym/Math-v0", "--max-sessions", "1") as server:
        script = ("import sys, time; from openenv.core import GenericEnvClient\n"
                  f"c = GenericEnvClient(base_url={server.url!r}).sync(); c.connect(); c.reset(seed=0)\n"
                  "print('ready', flush=True); time.sleep(600)\n")
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert child.stdout.readline().strip() == "ready"
            assert server.sessions()["sessions"] == 1
            with raw_session(server.url) as ws:
                full = json.loads(ws.recv(timeout=60))
                assert full["type"] == "error" and full["data"]["code"] == "CAPACITY_REACHED"
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=60)
                assert closed.value.rcvd.code == 1013  # try again later
            child.send_signal(signal.SIGKILL)
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        stats = server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == 0)
        assert stats["sessions"] == 0 and stats["envs_alive"] == 0
        with GenericEnvClient(base_url=server.url).sync() as c:  # the slot is free again
            assert not c.reset(seed=1).done


def raw_session(url: str, **kwargs):
    return connect(url.replace("http://", "ws://") + "/ws", proxy=None, **kwargs)


def exchange(ws, message) -> dict:
    ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))
    return json.loads(ws.recv(timeout=60))


def test_malformed_and_oversized_messages_get_protocol_errors_and_the_session_goes_on():
    with env_server("selfgym/Math-v0", "--max-sessions", "2", "--max-message-bytes", "65536") as server:
        with raw_session(server.url, max_size=None) as ws:
            attempts = {
                "{not json": "INVALID_JSON",
                json.dumps([1, 2]): "VALIDATION_ERROR",
                json.dumps("reset"): "VALIDATION_ERROR",
                json.dumps({"type": "teleport"}): "UNKNOWN_TYPE",
                json.dumps({"data": {}}): "UNKNOWN_TYPE",
                json.dumps({"type": "reset", "data": {"seed": -1}}): "VALIDATION_ERROR",
                json.dumps({"type": "reset", "data": {"seed": "zero"}}): "VALIDATION_ERROR",
                json.dumps({"type": "reset", "data": {"task_id": "no/such/task"}}): "VALIDATION_ERROR",
                json.dumps({"type": "reset", "data": []}): "VALIDATION_ERROR",
                json.dumps({"type": "step", "data": {"text": "x"}}): "EXECUTION_ERROR",  # before any reset
                json.dumps({"type": "step", "data": {}}): "VALIDATION_ERROR",
                json.dumps({"type": "step", "data": {"text": 5}}): "VALIDATION_ERROR",
                json.dumps({"type": "step", "data": {"text": "a", "tool_call": {}}}): "VALIDATION_ERROR",
                b'{"type": "state"}': "VALIDATION_ERROR",  # a binary frame
                json.dumps({"type": "step", "data": {"text": "x" * 70_000}}): "VALIDATION_ERROR",  # past the limit
                json.dumps({"type": "reset", "data": {"seed": 0}, "session": 1}): "VALIDATION_ERROR",
                "[" * 30_000 + "]" * 30_000: "INVALID_JSON",  # deeper than any parser recurses
            }
            for message, code in attempts.items():
                answer = exchange(ws, message)
                assert answer["type"] == "error" and answer["data"]["code"] == code, (message[:80], answer)
                assert len(json.dumps(answer)) < 4_000  # errors never echo a huge input back
            observation = exchange(ws, {"type": "reset", "data": {"seed": 0}})
            assert observation["type"] == "observation"
            # a malformed action from a model is an observation with reward 0, as in a local env
            answer = exchange(ws, {"type": "step", "data": {"tool_call": {"name": "answer", "arguments": "{oops"}}})
            assert answer["type"] == "observation" and answer["data"]["reward"] == 0.0
            assert "not valid JSON" in answer["data"]["observation"]["text"]
        # past the WebSocket layer's own limit (4x): the socket is closed (1009), the server lives on
        with raw_session(server.url, max_size=None) as ws:
            ws.send(json.dumps({"type": "step", "data": {"text": "y" * 300_000}}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=60)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == 0)["envs_alive"] == 0
        with GenericEnvClient(base_url=server.url).sync() as c:
            assert not c.reset(seed=0).done


def test_a_client_reaches_no_other_session_no_host_file_and_cannot_set_its_reward(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-42")
    with env_server("selfgym/Shell-v0", "--max-sessions", "3", "--allow-custom-tasks") as server:
        with raw_session(server.url) as a, raw_session(server.url) as b:
            first = exchange(a, {"type": "reset", "data": {"task_id": "shell/archives-001"}})["data"]["observation"]
            exchange(b, {"type": "reset", "data": {"task_id": "shell/build-001"}})
            exchange(a, {"type": "step", "data": {"text": "echo from-a > /work/mark.txt"}})
            # each session is its socket's: no message names another, and b's sandbox is not a's
            seen = exchange(b, {"type": "step", "data": {"text": "cat /work/mark.txt; ls /work"}})
            assert "from-a" not in seen["data"]["observation"]["text"]
            for forged in ({"type": "state", "session_id": "x"},
                           {"type": "step", "data": {"text": "ls"}, "session": 1}):
                assert exchange(b, forged)["data"]["code"] == "VALIDATION_ERROR"
            assert exchange(a, {"type": "state"})["data"]["task_id"] == first["task"]["id"]
            # the reward is the verifier's: a client cannot send one
            for forged in ({"text": "submit", "reward": 1.0}, {"text": "submit", "done": True}):
                assert exchange(a, {"type": "step", "data": forged})["data"]["code"] == "VALIDATION_ERROR"
            # the host's files: not through a task naming them, nor through an option the env takes
            harbor = {"id": "x", "family": "shell", "prompt": "read it",
                      "data": {"harbor": {"dir": str(tmp_path), "environment": "sandbox", "tests_dir": str(tmp_path)}}}
            for data in ({"task": harbor}, {"tasks": str(secret)}, {"task_id": str(secret)},
                         {"task_id": "../../../../etc/passwd"}, {"options": {"tasks": str(tmp_path)}}):
                answer = exchange(a, {"type": "reset", "data": data})
                assert answer["data"]["code"] == "VALIDATION_ERROR", (data, answer)
                assert "SECRET-42" not in json.dumps(answer)
            # the sandbox sees no host file either
            exchange(a, {"type": "reset", "data": {"task_id": "shell/archives-001"}})
            found = exchange(a, {"type": "step", "data": {"text": f"cat {secret} 2>&1; ls {tmp_path} 2>&1"}})
            assert "SECRET-42" not in found["data"]["observation"]["text"]
            # a custom task (allowed on this server) is played in the sandbox like any other
            custom = {"id": "mine/1", "family": "shell", "prompt": "Write hi to /work/hi.txt.",
                      "data": {"category": "files", "check": "[ \"$(cat hi.txt)\" = hi ]", "solution": ["submit"]}}
            exchange(a, {"type": "reset", "data": {"task": custom}})
            exchange(a, {"type": "step", "data": {"text": "echo hi > hi.txt"}})
            assert exchange(a, {"type": "step", "data": {"text": "submit"}})["data"]["reward"] == 1.0


def test_without_allow_custom_tasks_only_the_servers_tasks_are_played():
    custom = {"id": "m", "family": "custom", "prompt": "1+1?", "data": {"answer": "2"}}
    with env_server("selfgym/Math-v0", "--max-sessions", "1") as server:
        with raw_session(server.url) as ws:
            answer = exchange(ws, {"type": "reset", "data": {"task": custom}})
            assert answer["data"]["code"] == "VALIDATION_ERROR" and "--allow-custom-tasks" in answer["data"]["message"]


def test_a_token_guards_every_endpoint_but_health():
    from selfgym.envs.remote.client import RemoteEnvError, request_json

    with env_server("selfgym/Math-v0", "--max-sessions", "2", token="s3cret") as server:
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            with pytest.raises(InvalidStatus), raw_session(server.url, additional_headers=headers):
                pass
        with pytest.raises(ConnectionError), GenericEnvClient(base_url=server.url).sync() as c:
            c.reset()
        for path in ("/schema", "/metadata", "/sessions", "/list_environments", "/state"):
            with pytest.raises(RemoteEnvError, match="HTTP 401"):
                request_json(server.url, path)
        assert request_json(server.url, "/health") == {"status": "healthy"}
        with raw_session(server.url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            assert exchange(ws, {"type": "reset", "data": {"seed": 0}})["type"] == "observation"
        env = gym.make("selfgym/Remote-v0", url=server.url, token="s3cret")
        assert env.reset(seed=0)[0] and env.unwrapped.tool_schemas()
        env.close()


def test_http_endpoints_and_the_task_api():
    from selfgym.envs.remote.client import RemoteEnvError, request_json

    with env_server("selfgym/Code-v0", "--max-sessions", "2") as server:
        url = server.url
        schema = request_json(url, "/schema")
        assert {"action", "observation", "state"} <= set(schema) and "tool_call" in schema["action"]["properties"]
        metadata = request_json(url, "/metadata")
        assert metadata["name"] == "selfgym/Code-v0" and metadata["tools"][0]["function"]["name"] == "submit_code"
        assert request_json(url, "/list_environments") == ["Code-v0"]
        assert request_json(url, "/code-v0/splits") == [{"name": "train", "type": "train"}]
        assert request_json(url, "/Code-v0/num_tasks", {"split": "train"}) == {"num_tasks": 164}
        first = request_json(url, "/Code-v0/task", {"split": "train", "index": 0})["task"]
        assert first["id"] == "HumanEval/0" and set(first) == {"id", "family", "prompt", "difficulty"}
        page = request_json(url, "/Code-v0/task_range", {"split": "train", "start": 160, "stop": 170})["tasks"]
        assert [t["id"] for t in page] == [f"HumanEval/{i}" for i in range(160, 164)]
        assert len(request_json(url, "/Code-v0/tasks", {"split": "train"})["tasks"]) == 164
        for path, body, status in (("/Code-v0/task", {"split": "train", "index": 164}, "HTTP 400"),
                                   ("/Code-v0/tasks", {"split": "test"}, "HTTP 404"),
                                   ("/Shell-v0/tasks", {"split": "train"}, "HTTP 404"),
                                   ("/Code-v0/task", {"split": "train", "index": -1}, "HTTP 422")):
            with pytest.raises(RemoteEnvError, match=status):
                request_json(url, path, body)
        # stateless: a fresh env per request, /step resets it with the request's task and plays one action
        reset = request_json(url, "/reset", {"task_id": "HumanEval/2"})
        assert reset["observation"]["task"]["id"] == "HumanEval/2" and reset["done"] is False
        task, _ = local_task("selfgym/Code-v0", "HumanEval/2")
        call = {"name": "submit_code", "arguments": {"code": task.data["canonical_solution"]}}
        step = request_json(url, "/step", {"task_id": "HumanEval/2", "action": {"tool_call": call}})
        assert step["reward"] == 1.0 and step["done"] is True
        with pytest.raises(RemoteEnvError, match="HTTP 422"):
            request_json(url, "/step", {"task_id": "HumanEval/2", "action": {"text": "x", "reward": 1}})
        assert server.wait_for(lambda s: s["envs_alive"] == 0)["envs_alive"] == 0


def test_an_idle_session_is_closed():
    with env_server("selfgym/Math-v0", "--max-sessions", "1", "--idle-timeout", "1") as server:
        with raw_session(server.url) as ws:
            exchange(ws, {"type": "reset", "data": {"seed": 0}})
            time.sleep(1.5)
            answer = json.loads(ws.recv(timeout=30))
            assert answer["data"]["code"] == "SESSION_ERROR" and "idle" in answer["data"]["message"]
        assert server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == 0)["envs_alive"] == 0


def test_async_openenv_client_works_too():
    async def play(url: str) -> tuple:
        async with GenericEnvClient(base_url=url) as client:
            first = await client.reset(task_id="basic_arithmetic/L0/s0/0")
            answer = first.observation["task"]["prompt"]
            result = await client.step({"tool_call": {"name": "answer", "arguments": {"answer": "nonsense"}}})
            return answer, result.reward, result.done

    with env_server("selfgym/Math-v0", "--max-sessions", "1") as server:
        prompt, reward, done = asyncio.run(play(server.url))
        assert prompt and reward == 0.0 and done
