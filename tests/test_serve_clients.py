"""Other people's clients against ``selfgym serve``: the official ``openai`` SDK and raw HTTP (requests).

Issue 20, fault 5 (each reproduced first): a lone surrogate was a 500, an 8 MB message was tokenized before the
length check (blocking the one worker), seed 2**70 was answered with torch's "Overflow when unpacking long long",
unknown roles were accepted, and ``stop: [""]`` ended every reply after one token.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import threading

import gymnasium as gym
import openai
import pytest
import requests
import torch
from conftest import SIX_SEVENS_PROMPT
from tiny_models import build_tiny_chat_model

from selfgym.agents import HFPolicy, OpenAIPolicy, create_app, rollout
from selfgym.agents.serve import prompt_char_limit, serve_in_thread
from selfgym.envs import Task

QUESTION = [{"role": "user", "content": "What is 2+3?"}]


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> HFPolicy:
    return HFPolicy(build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat")), name="tiny", batch_size=4)


@pytest.fixture(scope="module")
def tokenized(policy):
    """The length (characters) of every prompt the served policy tokenizes."""
    lengths: list[int] = []
    prompt_ids = policy.prompt_ids

    def recording(messages, tools=None):
        lengths.append(sum(len(m["content"]) for m in messages))
        return prompt_ids(messages, tools)

    policy.prompt_ids = recording
    yield lengths
    del policy.prompt_ids


@pytest.fixture(scope="module")
def url(policy, tokenized):
    with serve_in_thread(create_app(policy, "tiny")) as base_url:
        yield base_url


@pytest.fixture
def client(url) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0)


# --- the openai SDK ---------------------------------------------------------------------------------------------

def test_sdk_lists_the_model_and_completes(client):
    assert [model.id for model in client.models.list().data] == ["tiny"]
    response = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=8)
    assert response.object == "chat.completion" and response.choices[0].message.role == "assistant"
    assert response.choices[0].finish_reason in ("stop", "length")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_sdk_sampling_parameters(client):
    kwargs = dict(model="tiny", messages=QUESTION, max_completion_tokens=6, temperature=1.0, top_p=0.9)
    first = client.chat.completions.create(n=2, seed=3, **kwargs)
    again = client.chat.completions.create(n=2, seed=3, **kwargs)
    assert [c.index for c in first.choices] == [0, 1]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    stopped = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=8, stop="\n")
    assert "\n" not in stopped.choices[0].message.content
    assert client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=4, seed=-(2**63)).choices


def test_sdk_content_parts_and_a_system_message(client):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+3?"}]}]
    parts = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6)
    plain = client.chat.completions.create(
        model="tiny", messages=[messages[0], {"role": "user", "content": "What is 2+3?"}], max_tokens=6)
    assert parts.choices[0].message.content == plain.choices[0].message.content


def test_sdk_errors_are_openai_errors(client):
    with pytest.raises(openai.NotFoundError, match="serves 'tiny'") as error:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert error.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError, match="top_logprobs needs logprobs"):
        client.chat.completions.create(model="tiny", messages=QUESTION, top_logprobs=2)
    with pytest.raises(openai.BadRequestError, match="reads at most 512"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "step " * 1000}])


F_TOOL = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]


@pytest.mark.parametrize("kwargs, param, complaint", [
    ({"tools": F_TOOL}, "tools", "chat template of tiny does not show the tools"),  # was a 500 (issue 26)
    ({"tool_choice": "required"}, "tool_choice", "only allowed when tools are given"),
    ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice", "only allowed when tools"),
    ({"top_logprobs": 2}, "top_logprobs", "needs logprobs"),
    ({"seed": 2**64}, "seed", "less than or equal"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role", "'system', 'user'"),
    ({"messages": [{"role": "user", "content": "step " * 1000}]}, "messages", "reads at most 512"),
])
def test_every_request_it_cannot_answer_is_a_400_naming_the_field(client, kwargs, param, complaint):
    with pytest.raises(openai.BadRequestError, match=complaint) as error:
        client.chat.completions.create(**{"model": "tiny", "messages": QUESTION, "max_tokens": 2, **kwargs})
    assert error.value.body["param"] == param


def test_negative_seeds_are_answered_and_reproducible(client):
    def reply(seed: int, stream: bool = False) -> str:
        kwargs = dict(model="tiny", messages=QUESTION, max_tokens=8, temperature=1.0, seed=seed)
        if stream:
            return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                stream=True, **kwargs) if c.choices)
        return client.chat.completions.create(**kwargs).choices[0].message.content

    assert reply(-1) == reply(-1) == reply(-1, stream=True)
    assert reply(-(2**63)) == reply(-(2**63))
    assert len({reply(seed) for seed in (-1, -2, -3, 1)}) > 1  # the seed matters


def test_a_lone_surrogate_is_a_400_not_a_500(url):
    # the SDK itself refuses to encode one (UnicodeEncodeError), so it comes as JSON's \ud800 escape, as curl sends it
    for content in ('"bad \\ud800 text"', '[{"type": "text", "text": "\\udfff"}]'):
        body = '{"model": "tiny", "messages": [{"role": "user", "content": %s}]}' % content
        response = requests.post(f"{url}/chat/completions", data=body.encode(), timeout=60,
                                 headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert "unpaired surrogate" in response.json()["error"]["message"]


@pytest.mark.parametrize("seed", [2**70, 2**63, -(2**63) - 1])
def test_a_seed_outside_int64_is_a_400(client, seed):
    with pytest.raises(openai.BadRequestError, match="seed"):
        client.chat.completions.create(model="tiny", messages=QUESTION, seed=seed)


@pytest.mark.parametrize("role", ["robot", "function", ""])
def test_an_unknown_role_is_a_400(client, role):
    with pytest.raises(openai.BadRequestError, match=r"role.*'system', 'user', 'assistant' or 'tool'"):
        client.chat.completions.create(model="tiny", messages=[{"role": role, "content": "hi"}])


@pytest.mark.parametrize("stop", [[""], "", ["\n", ""]])
def test_an_empty_stop_string_is_a_400(client, stop):
    with pytest.raises(openai.BadRequestError, match="stop strings must not be empty"):
        client.chat.completions.create(model="tiny", messages=QUESTION, stop=stop)


def test_a_huge_message_is_refused_before_it_is_tokenized(client, policy, tokenized):
    huge = "x" * (8 << 20)
    tiny_answers = []
    worker = threading.Thread(target=lambda: tiny_answers.append(
        client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=4)))
    with pytest.raises(openai.BadRequestError, match="8,388,608 characters; tiny reads at most 512 tokens"):
        worker.start()
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": huge}])
    worker.join(timeout=120)
    assert tiny_answers and tiny_answers[0].choices
    assert max(tokenized) <= prompt_char_limit(policy)  # the huge one never reached the tokenizer


def test_an_over_long_prompt_in_a_batch_fails_alone(url, policy):
    too_long = [{"role": "user", "content": "step " * 1000}]
    results: dict[str, int] = {}
    barrier = threading.Barrier(4)

    def ask(name, messages):
        barrier.wait()
        results[name] = requests.post(f"{url}/chat/completions", timeout=120,
                                   json={"model": "tiny", "messages": messages, "max_tokens": 4}).status_code

    threads = [threading.Thread(target=ask, args=(f"ok{i}", QUESTION)) for i in range(3)]
    threads.append(threading.Thread(target=ask, args=("long", too_long)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == {"ok0": 200, "ok1": 200, "ok2": 200, "long": 400}


# --- raw HTTP ---------------------------------------------------------------------------------------------------

def test_raw_http_answers_in_openai_shape(url):
    root = url.removesuffix("/v1")
    assert requests.get(f"{root}/health").json() == {"status": "ok"}
    response = requests.post(f"{url}/chat/completions", json={"messages": QUESTION, "max_tokens": 3}, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "tiny" and body["choices"][0]["index"] == 0


@pytest.mark.parametrize("body, complaint", [
    (b"{not json", "invalid request"),
    (json.dumps({"model": "tiny"}).encode(), "messages"),
    (json.dumps({"messages": []}).encode(), "messages"),
    (json.dumps({"messages": QUESTION, "max_tokens": 0}).encode(), "max_tokens"),
    (json.dumps({"messages": QUESTION, "temperature": -1}).encode(), "temperature"),
    (json.dumps({"messages": QUESTION, "n": 1000}).encode(), "n"),
    (json.dumps({"messages": [{"role": "user", "content": 5}]}).encode(), "content"),
    (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "unpaired surrogate"),
    (b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', "invalid request"),
])
def test_raw_http_bad_requests_are_400_with_an_error_object(url, body, complaint):
    response = requests.post(f"{url}/chat/completions", data=body, headers={"content-type": "application/json"},
                          timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and complaint in error["message"]


# --- streaming, log-probabilities, tools --------------------------------------------------------------------------

def test_a_stream_brings_the_reply_piece_by_piece_with_usage(client):
    kwargs = dict(model="tiny", messages=QUESTION, max_tokens=24)
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 3, "the text comes as it is generated, not in one piece"
    assert "".join(pieces) == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump() == whole.usage.model_dump()
    # several replies in one stream, each whole, with their own index; a stop string never shows
    chunks = list(client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=8, n=2, seed=1,
                                                 temperature=1.0, stream=True))
    assert {c.choices[0].index for c in chunks if c.choices[0].finish_reason} == {0, 1}
    stopped = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=24, stop=[pieces[2][:1]])
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="tiny", messages=QUESTION, max_tokens=24, stop=[pieces[2][:1]], stream=True))
    assert streamed == stopped.choices[0].message.content and pieces[2][:1] not in streamed


def test_logprobs_are_the_models_own_streamed_or_not(client, policy):
    response = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=10, logprobs=True,
                                              top_logprobs=3)
    tokens = response.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == response.choices[0].message.content
    assert all(len(t.top_logprobs) == 3 and t.top_logprobs[0].logprob >= t.logprob for t in tokens)
    # recomputed from one forward pass over the prompt and the reply's tokens (greedy: the likeliest each time)
    prompt = policy.prompt_ids(QUESTION)
    with torch.no_grad():
        generated = policy.model.generate(torch.tensor([prompt]), max_new_tokens=10, do_sample=False,
                                          pad_token_id=policy.tokenizer.pad_token_id)[0, len(prompt):].tolist()
    ids = generated[:next((i for i, t in enumerate(generated) if t in policy.eos_token_ids), len(generated))]
    assert [t.token for t in tokens] == [policy.tokenizer.decode([i]) for i in ids]
    with torch.no_grad():
        logits = policy.model(torch.tensor([prompt + ids])).logits[0, len(prompt) - 1:-1]
    expected = torch.log_softmax(logits.float(), dim=-1)[range(len(ids)), ids]
    assert [round(t.logprob, 3) for t in tokens] == [round(float(v), 3) for v in expected]
    chunks = list(client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=10, logprobs=True,
                                                 top_logprobs=3, stream=True))
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert [(t.token, round(t.logprob, 4)) for t in streamed] == [(t.token, round(t.logprob, 4)) for t in tokens]


@pytest.fixture(scope="module")
def tool_url(tiny_tool_model):
    with serve_in_thread(create_app(HFPolicy(tiny_tool_model), "tiny-tools")) as base_url:
        yield base_url


MATH_TOOLS = gym.make("selfgym/Math-v0").unwrapped.tool_schemas()


def test_tools_and_tool_calls_through_the_openai_sdk(tool_url):
    client = openai.OpenAI(base_url=tool_url, api_key="EMPTY", max_retries=0)
    question = [{"role": "user", "content": SIX_SEVENS_PROMPT}]
    response = client.chat.completions.create(model="tiny-tools", messages=question, tools=MATH_TOOLS,
                                              max_tokens=40)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "answer" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"answer": "42"}
    # the call and its result go back in the history, as any OpenAI client sends them
    history = [*question, choice.message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "Correct."}]
    assert client.chat.completions.create(model="tiny-tools", messages=history, tools=MATH_TOOLS, max_tokens=4)
    # streamed: the call comes whole in the last chunk
    chunks = list(client.chat.completions.create(model="tiny-tools", messages=question, tools=MATH_TOOLS,
                                                 max_tokens=40, stream=True))
    [streamed] = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert streamed.function.name == "answer" and json.loads(streamed.function.arguments) == {"answer": "42"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # tool_choice none: the tools are not offered, and no call comes back
    plain = client.chat.completions.create(model="tiny-tools", messages=question, tools=MATH_TOOLS,
                                           tool_choice="none", max_tokens=8)
    assert plain.choices[0].message.tool_calls is None
    # a call cannot be forced (generation is not constrained to one): a clear 400, whether required or named
    for choice, forced in (("required", "a tool call"), ({"type": "function", "function": {"name": "answer"}},
                                                          "a call of 'answer'")):
        with pytest.raises(openai.BadRequestError, match=f"cannot force {forced}") as error:
            client.chat.completions.create(model="tiny-tools", messages=question, tools=MATH_TOOLS,
                                           tool_choice=choice, max_tokens=8)
        assert error.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError, match="'nope', which is not among the tools") as error:
        client.chat.completions.create(model="tiny-tools", messages=question, tools=MATH_TOOLS, max_tokens=8,
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
    assert error.value.body["param"] == "tool_choice.function.name"


def test_usage_counts_the_tokens_logprobs_lists(tool_url):
    """The end-of-turn token the model generated counts in usage (issue 26: it was one more than logprobs had)."""
    client = openai.OpenAI(base_url=tool_url, api_key="EMPTY", max_retries=0)
    question = [{"role": "user", "content": SIX_SEVENS_PROMPT}]
    for stream in (False, True):
        kwargs = dict(model="tiny-tools", messages=question, tools=MATH_TOOLS, max_tokens=40, logprobs=True)
        if stream:
            chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                                         **kwargs))
            tokens = [t for c in chunks if c.choices and c.choices[0].logprobs
                      for t in c.choices[0].logprobs.content]
            usage, finish = chunks[-1].usage, [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        else:
            response = client.chat.completions.create(**kwargs)
            tokens, usage, finish = response.choices[0].logprobs.content, response.usage, \
                response.choices[0].finish_reason
        assert finish == "tool_calls" and usage.completion_tokens == len(tokens)
        assert tokens[-1].token == "<|im_end|>"  # the model ended its turn: that token, with its log-probability


def test_openai_policy_plays_a_tool_call_episode_through_selfgym_serve(tool_url):
    env = gym.make("selfgym/Math-v0")
    task = Task("six-sevens", "custom", SIX_SEVENS_PROMPT, data={"answer": "42"})
    try:
        trajectory = rollout(env, OpenAIPolicy("tiny-tools", base_url=tool_url), task, tools=True)
    finally:
        env.close()
    assert trajectory.success and trajectory.messages[-1]["role"] == "tool"


@pytest.mark.slow
def test_the_embedded_smollm2_refuses_tools_with_a_400_and_counts_what_logprobs_lists():
    """SmolLM2's chat template has no place for tools: a request with them was an HTTP 500 PolicyError."""
    with serve_in_thread(create_app(HFPolicy("smollm2", device="cpu"), "smollm2")) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="template of smollm2 does not show the tools") as error:
            client.chat.completions.create(model="smollm2", messages=QUESTION, tools=F_TOOL, max_tokens=4)
        assert error.value.body["param"] == "tools"
        reply = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say hi."}],
                                               max_tokens=64, logprobs=True)
        tokens = reply.choices[0].logprobs.content
        assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens == len(tokens)
        assert "".join(t.token for t in tokens[:-1]) == reply.choices[0].message.content
