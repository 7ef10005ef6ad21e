"""Tool calls as actions: the tool schemas each env declares, OpenAI-style calls played through ``env.step``, a
whole tool-call episode with ``ScriptedPolicy`` in every env, and malformed calls answered as observations."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.agents import ScriptedPolicy, rollout
from selfgym.envs.tools import ToolCall, ToolCallError, check_call, tool
from selfgym.envs.web.actions import parse_action

TOOL_NAMES = {
    "selfgym/Code-v0": ["submit_code"],
    "selfgym/Shell-v0": ["bash", "submit"],
    "selfgym/Math-v0": ["python", "answer"],
    "selfgym/Web-v0": ["click", "type", "select", "goto", "scroll", "back", "answer"],
}


def test_tool_calls_are_read_in_every_form_and_checked_against_the_schema():
    bash = tool("bash", "Run a command.", {"command": {"type": "string"}}, {"timeout": {"type": "integer"}})
    for raw in ({"name": "bash", "arguments": {"command": "ls"}},
                {"name": "bash", "arguments": '{"command": "ls"}'},
                {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}},
                ToolCall("bash", {"command": "ls"})):
        call = ToolCall.parse(raw)
        assert (call.name, dict(call.arguments)) == ("bash", {"command": "ls"})
        assert check_call(call, [bash]) is bash
    wrong = {
        "A tool call must be an object": "bash",
        "needs the tool's name": {"arguments": {}},
        "not valid JSON": {"name": "bash", "arguments": "{command: ls"},
        "must be a JSON object, not list": {"name": "bash", "arguments": "[1]"},
        "Only function tool calls": {"type": "code_interpreter", "function": {}},
        "There is no tool 'rm'. The tools are: bash": {"name": "rm", "arguments": {}},
        "bash needs the argument(s) command": {"name": "bash", "arguments": {}},
        "takes no argument(s) 'cmd'": {"name": "bash", "arguments": {"command": "ls", "cmd": "ls"}},
        "must be a JSON string": {"name": "bash", "arguments": {"command": 5}},
        "timeout of bash must be a JSON integer": {"name": "bash", "arguments": {"command": "ls", "timeout": True}},
    }
    for message, raw in wrong.items():
        with pytest.raises(ToolCallError, match=re.escape(message)):
            check_call(ToolCall.parse(raw), [bash])


@pytest.mark.parametrize("env_id", list(TOOL_NAMES))
def test_every_env_declares_its_tools_in_the_openai_form(env_id):
    env = gym.make(env_id)
    try:
        schemas = env.unwrapped.tool_schemas()
        assert [s["function"]["name"] for s in schemas] == TOOL_NAMES[env_id]
        for schema in schemas:
            assert schema["type"] == "function" and schema["function"]["description"]
            assert schema["function"]["parameters"]["type"] == "object"
            json.dumps(schema)
    finally:
        env.close()
    assert [s["function"]["name"] for s in gym.make("selfgym/Math-v0", tools=False).unwrapped.tool_schemas()] == [
        "answer"]


def as_tool_call(env_id: str, action: str) -> dict:
    """A reference text action, written as the tool call that stands for it."""
    if env_id == "selfgym/Code-v0":
        return {"name": "submit_code", "arguments": {"code": action.removeprefix("```python\n").removesuffix("\n```")}}
    if env_id == "selfgym/Shell-v0":
        if action.strip().startswith("submit"):
            answer = action.strip()[len("submit"):].strip()
            return {"name": "submit", "arguments": {"answer": answer} if answer else {}}
        return {"name": "bash", "arguments": {"command": action}}
    if env_id == "selfgym/Math-v0":
        return {"name": "answer", "arguments": {"answer": action.split("\\boxed{", 1)[1].rsplit("}", 1)[0]}}
    parsed = parse_action(action)
    arguments = {"click": {"id": parsed.element}, "type": {"id": parsed.element, "text": parsed.text},
                 "select": {"id": parsed.element, "option": parsed.text}, "goto": {"url": parsed.text},
                 "scroll": {"direction": parsed.text}, "back": {}, "answer": {"answer": parsed.text}}[parsed.kind]
    return {"name": parsed.kind, "arguments": arguments}


EPISODES = {"selfgym/Code-v0": "HumanEval/0", "selfgym/Shell-v0": "shell/archives-002",
            "selfgym/Math-v0": "basic_arithmetic/L0/s0/0", "selfgym/Web-v0": "web/shop-001"}


@pytest.mark.docker
@pytest.mark.parametrize("env_id", list(EPISODES))
def test_a_scripted_tool_call_episode_in_every_env(env_id):
    env = gym.make(env_id)
    env_class = type(env.unwrapped)
    task = env.unwrapped.source.get(EPISODES[env_id])

    def reply(messages: list[dict]) -> dict:
        observations = [m["content"] for m in messages if m["role"] in ("user", "tool")]
        return as_tool_call(env_id, env_class.reference_reply(task, observations))

    try:
        trajectory = rollout(env, ScriptedPolicy(reply), task, tools=True)
    finally:
        env.close()
    assert trajectory.success and trajectory.error is None, trajectory.steps[-1].observation
    assert all(json.loads(step.action)["name"] in TOOL_NAMES[env_id] for step in trajectory.steps)
    calls = [m for m in trajectory.messages if m["role"] == "assistant"]
    answers = [m for m in trajectory.messages if m["role"] == "tool"]
    assert len(calls) == len(answers) == len(trajectory.steps)
    assert [a["tool_call_id"] for a in answers] == [c["tool_calls"][0]["id"] for c in calls]


@pytest.mark.docker
@pytest.mark.parametrize("env_id", list(EPISODES))
def test_a_malformed_tool_call_is_an_observation_with_reward_0(env_id):
    env = gym.make(env_id, max_steps=8)
    try:
        env.reset(options={"task_id": EPISODES[env_id]})
        name = TOOL_NAMES[env_id][0]
        for call in ({"name": "rm_rf", "arguments": {}}, {"name": name, "arguments": "{not json"},
                     {"name": name, "arguments": {"bogus": 1}}, {"function": "x"}, {"name": name, "arguments": [1]}):
            observation, reward, terminated, truncated, info = env.step(call)
            assert reward == 0.0 and not terminated and info["malformed"], (call, observation)
            assert observation.startswith("Your tool call could not be played")
    finally:
        env.close()


def test_bash_refuses_to_run_submit_rather_than_end_the_episode():
    env = gym.make("selfgym/Shell-v0")
    try:
        env.reset(options={"task_id": "shell/archives-002"})
        observation, reward, terminated, _, info = env.step({"name": "bash", "arguments": {"command": "submit"}})
        assert not terminated and info["malformed"] and "call the submit tool" in observation
    finally:
        env.close()


def test_a_tool_call_episode_with_the_tiny_model(tiny_tool_model, torch_one_thread):
    from selfgym.agents import HFPolicy
    from selfgym.envs import Task

    env = gym.make("selfgym/Math-v0")
    task = Task("six-sevens", "custom", "What is 6 * 7?", data={"answer": "42"})
    policy = HFPolicy(tiny_tool_model)
    try:
        trajectory = rollout(env, policy, task, tools=True)
    finally:
        env.close()
    assert trajectory.success and [s.reward for s in trajectory.steps] == [1.0]
    call = trajectory.messages[-2]["tool_calls"][0]
    assert call["function"] == {"name": "answer", "arguments": {"answer": "42"}}
    assert trajectory.messages[-1] == {"role": "tool", "tool_call_id": call["id"], "name": "answer",
                                       "content": "Correct."}
    # the prompt the model read showed the tools, rendered by its chat template
    prompt = policy.tokenizer.decode(policy.prompt_ids(trajectory.messages[:2], env.unwrapped.tool_schemas()))
    assert '"name": "answer"' in prompt and "<tools>" in prompt


def test_a_template_that_drops_tools_is_refused(tmp_path):
    from tiny_models import build_tiny_chat_model

    from selfgym.agents import HFPolicy, PolicyError

    policy = HFPolicy(build_tiny_chat_model(tmp_path / "chatml"))  # ChatML without tools
    with pytest.raises(PolicyError, match="does not show the tools"):
        policy.act_batch_with_info([[{"role": "user", "content": "hi"}]],
                                   tools=gym.make("selfgym/Math-v0").unwrapped.tool_schemas())


def test_tool_calls_are_read_from_a_models_text_and_malformed_ones_reach_the_env():
    from selfgym.agents.tool_parsing import parse_tool_calls

    content, calls = parse_tool_calls('Let me see.\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n'
                                      '</tool_call>\n<tool_call>{"name": "submit", "arguments": {}}</tool_call>')
    assert content == "Let me see." and [c["function"] for c in calls] == [
        {"name": "bash", "arguments": {"command": "ls"}}, {"name": "submit", "arguments": {}}]
    assert parse_tool_calls("no call here") == ("no call here", [])
    _, [broken] = parse_tool_calls('<tool_call>{"name": "bash", "arguments": {"command": "ls"</tool_call>')
    _, [cut] = parse_tool_calls('<tool_call>{"name": "answer", "arguments": {"ans')  # cut off at max tokens
    env = gym.make("selfgym/Math-v0")
    env.reset(seed=0)
    for call in (broken, cut):
        observation, reward, terminated, _, info = env.step(call["function"])
        assert reward == 0.0 and not terminated and info["malformed"], observation
