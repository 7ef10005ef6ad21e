"""``selfgym/Remote-v0`` against OpenEnv servers written elsewhere (:mod:`foreign_envs`): the echo env that
``openenv init`` generates, DIPG Safety from OpenEnv's repository (its PyPI package), and MCP tool envs built on
openenv-core's own ``MCPEnvironment``. Each is played through ``gym.make`` and passes Gymnasium's checker."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from foreign_envs import DIPG_ANSWER, DIPG_CONTEXT, DIPG_QUESTION, dipg_safety, openenv_init_echo, uvicorn
from gymnasium.utils.env_checker import check_env

import selfgym
from selfgym.envs import ToolCall
from selfgym.envs.remote import RemoteEnvError

pytestmark = pytest.mark.slow  # each server imports gradio at start


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    with openenv_init_echo(tmp_path_factory.mktemp("openenv-init")) as server:
        yield server


@pytest.fixture(scope="module")
def dipg_server(tmp_path_factory):
    pytest.importorskip("med_safety_gym", reason="openenv-dipg-safety is installed by scripts/setup.sh")
    with dipg_safety(tmp_path_factory.mktemp("dipg")) as server:
        yield server


def checked(url: str) -> gym.Env:
    """``gym.make`` of the server, after Gymnasium's checker passed on it without a warning."""
    env = gym.make("selfgym/Remote-v0", url=url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert not caught, [str(w.message) for w in caught]
    return env


def test_the_echo_env_that_openenv_init_writes(echo_server):
    env = checked(echo_server.url)
    try:
        observation, info = env.reset(seed=1)
        assert observation == "Echo Env environment ready!"
        assert info == {"observation": {"echoed_message": "Echo Env environment ready!", "message_length": 0}}
        assert env.unwrapped.task.family == "EchoEnvironment" and env.unwrapped.tool_schemas() == []
        # text goes to its one string field, `message`; the length beside it stays in info
        observation, reward, terminated, truncated, info = env.step("hello")
        assert (observation, reward, terminated, truncated) == ("hello", pytest.approx(0.5), False, False)
        assert info["observation"] == {"echoed_message": "hello", "message_length": 5}
        assert env.step({"message": "hi"})[:2] == ("hi", pytest.approx(0.2))  # a dict of its fields goes as it is
        with pytest.raises(RemoteEnvError, match=r"'msg' is not a field of its action \(message: string "
                                                 r"\(required\)\); send text \(it goes to 'message'\)") as error:
            env.step({"msg": "x"})
        assert error.value.field == "msg" and "EchoEnvironment" in str(error.value)
        with pytest.raises(RemoteEnvError, match="message: Input should be a valid string") as error:
            env.step({"message": 5})  # the server's own validation, with the field it names
        assert error.value.field == "message"
        with pytest.raises(RemoteEnvError, match="offers no MCP tools"):
            env.step(ToolCall("echo", {"message": "x"}))
        with pytest.raises(RemoteEnvError, match="not a selfgym server") as error:
            env.reset(options={"task": selfgym.Task("mine/1", "custom", "Say hi")})
        assert error.value.field == "task"
        assert env.step("still playing")[0] == "still playing"  # refused actions left the episode as it was
    finally:
        env.close()


def test_dipg_safety_from_openenvs_repository(dipg_server):
    env = checked(dipg_server.url)
    try:
        observation, info = env.reset(seed=0)
        # two text fields: the observation is their stable rendering, the server's fields stay in info
        assert observation == f"context: {DIPG_CONTEXT}\nquestion: {DIPG_QUESTION}"
        assert info["observation"]["question"] == DIPG_QUESTION
        right = f"<think>The context says so.</think>\n<proof>{DIPG_CONTEXT}</proof>\n<answer>{DIPG_ANSWER}</answer>"
        _, good, terminated, truncated, info = env.step(right)  # text goes to its one field, llm_response
        assert terminated and not truncated and info["observation"]["metrics"]["format_error"] is False
        env.reset(seed=0)
        observation, bad, terminated, _, info = env.step("four")
        assert terminated and info["observation"]["metrics"]["format_error"] is True
        # its rubric's rewards, as it gives them (0.1.67 marks every proof a hallucination: its grounding check reads
        # a field its state does not have, so a well-formed answer gets -20 and a malformed one -50)
        assert observation.startswith("metrics: {") and bad < good
        with pytest.raises(gym.error.ResetNeeded):
            env.step("after the end")
    finally:
        env.close()


MCP_APPS = '''
from fastmcp import FastMCP
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field


class NoteAction(Action):
    note: str = Field(..., description="A note to keep")


class NoteObservation(Observation):
    notes: list[str] = Field(default_factory=list)


class Counter(MCPEnvironment):
    """A counter whose only actions are its MCP tools."""

    def __init__(self):
        mcp = FastMCP("counter")
        self.total = 0
        self.notes = []

        @mcp.tool()
        def add(amount: int) -> str:
            """Add amount to the counter."""
            self.total += amount
            return f"total={self.total}"

        super().__init__(mcp)
        self._state = State(step_count=0)

    def reset(self, seed=None, episode_id=None, **kwargs):
        self.total = 0
        self.notes = []
        return NoteObservation(done=False, reward=0.0)

    def _step_impl(self, action, timeout_s=None, **kwargs):
        self.notes.append(action.note)
        return NoteObservation(notes=list(self.notes), done=len(self.notes) >= 2, reward=float(self.total))

    @property
    def state(self):
        return self._state


tools_only = create_app(Counter, CallToolAction, CallToolObservation, env_name="counter")
notes_and_tools = create_app(Counter, NoteAction, NoteObservation, env_name="notes")
'''


@pytest.mark.parametrize("app", ["tools_only", "notes_and_tools"])
def test_tool_calls_go_to_the_servers_mcp_tools(app, tmp_path):
    (tmp_path / "mcp_apps.py").write_text(MCP_APPS)
    with uvicorn(f"mcp_apps:{app}", tmp_path) as server:
        env = checked(server.url) if app == "notes_and_tools" else gym.make("selfgym/Remote-v0", url=server.url)
        try:
            env.reset(seed=0)
            (tool,) = env.unwrapped.tool_schemas()
            assert tool["function"]["name"] == "add" and tool["function"]["parameters"]["required"] == ["amount"]
            assert env.step(ToolCall("add", {"amount": 3}))[:3] == ("total=3", 0.0, False)
            observation, _, _, _, info = env.step({"type": "function", "function": {"name": "add",
                                                                                   "arguments": '{"amount": 4}'}})
            assert observation == "total=7" and info
            assert env.step({"name": "nope", "arguments": {}})[0].startswith("Tool error:")  # the model sees it
            if app == "tools_only":  # its action is CallToolAction: no field for text
                with pytest.raises(RemoteEnvError, match="no one text field .* or a tool call of add"):
                    env.step("some text")
            else:  # text goes to `note`; its list renders as JSON; the tools changed the env's own state
                assert env.step("first")[:3] == ('notes: ["first"]', 7.0, False)
                assert env.step({"note": "second"})[2] is True
        finally:
            env.close()


def test_how_any_servers_types_map_without_a_server():
    """The mapping itself (no server): text to the one string field, fields rendered in the schema's order, a
    reward that is not a finite number refused."""
    from selfgym.envs.remote.adapter import OpenEnvTypes

    schema = {"action": {"properties": {"metadata": {"type": "object"}, "command": {"type": "string"},
                                        "timeout": {"anyOf": [{"type": "number"}, {"type": "null"}]}},
                         "required": ["command"]},
              "observation": {"properties": {"done": {}, "reward": {}, "stdout": {"type": "string"},
                                             "stderr": {"type": "string"}, "exit_code": {"type": "integer"}}}}
    types = OpenEnvTypes("http://127.0.0.1:1", schema, {"name": "coding"})
    assert types.encode("ls -la") == ({"type": "step", "data": {"command": "ls -la"}}, "ls -la")
    assert types.encode({"command": "ls", "timeout": 2})[0]["data"] == {"command": "ls", "timeout": 2}
    observation = {"exit_code": 0, "stderr": "", "stdout": "a\nb\n", "extra": {"z": 1, "a": [2]}}
    assert types.text_of(observation) == 'stdout:\na\nb\n\nexit_code: 0\nextra: {"a": [2], "z": 1}'
    for reward in ("NaN", float("inf"), "much"):
        with pytest.raises(RemoteEnvError, match="not a finite number"):
            types.decode({"observation": observation, "reward": reward}, at_reset=False)
    with pytest.raises(RemoteEnvError, match=r"'cmd' is not a field of its action \(command: string \(required\), "
                                             r"timeout: number \| null\)"):
        types.encode({"cmd": "ls"})
