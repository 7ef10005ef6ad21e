"""Policies: the Policy API, ScriptedPolicy, HFPolicy on a tiny local model, the OpenAI-compatible server and
the OpenAIPolicy client over real HTTP on 127.0.0.1, and the embedded SmolLM2 conversion (slow)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub

import socket
import subprocess
import sys
import time

import pytest
import torch
from fastapi.responses import JSONResponse

from selfgym.agents import (
    Completion,
    ContextLengthError,
    HFPolicy,
    Policy,
    OpenAIPolicy,
    PolicyError,
    Sampling,
    ScriptedPolicy,
    check_messages,
    create_app,
)
from selfgym.agents.hf import default_dtype
from selfgym.agents.openai_policy import RateLimiter
from selfgym.agents.serve import serve_in_thread

QUESTION = [{"role": "user", "content": "What is 2+3?"}]
CONVERSATIONS = [
    QUESTION,
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "def add(a, b): write it in full, with tests, step by step"}],
    [{"role": "user", "content": "hi"}],
    [{"role": "user", "content": "ls -la /work"}, {"role": "assistant", "content": "notes.txt"},
     {"role": "user", "content": "cat notes.txt | wc -l"}],
    [{"role": "user", "content": "Solve the task."}],
]


@pytest.fixture(scope="module")
def tiny(tiny_path) -> HFPolicy:
    return HFPolicy(tiny_path, name="tiny", batch_size=2)


@pytest.fixture(scope="module")
def server(tiny):
    with serve_in_thread(create_app(tiny, "tiny")) as url:
        yield url


# --- the Policy API


def test_sampling_rejects_bad_values_and_takes_a_lone_stop_string():
    for bad in ({"max_new_tokens": 0}, {"temperature": -0.1}, {"top_p": 0.0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            Sampling(**bad)
    assert Sampling(stop="\n").stop == ("\n",)
    assert Sampling(stop=["a", "b"]).stop == ("a", "b")
    assert Sampling().greedy and not Sampling(temperature=0.5).greedy


@pytest.mark.parametrize(
    "messages, complaint",
    [
        ("What is 2+3?", "list of"),
        ([], "empty"),
        (["hi"], r"messages\[0\] must be a dict"),
        ([{"content": "hi"}], "'role'"),
        ([{"role": "user", "content": None}], "'content' string"),
    ],
)
def test_malformed_messages_are_a_clear_value_error(messages, complaint):
    with pytest.raises(ValueError, match=complaint):
        check_messages(messages)


def test_scripted_policy_replies_in_order_records_calls_and_runs_out_clearly():
    policy = ScriptedPolicy(["ls", "submit"])
    assert policy.act(QUESTION) == "ls"
    assert policy.act_batch([QUESTION]) == ["submit"]
    assert policy.calls == [QUESTION, QUESTION]
    with pytest.raises(PolicyError, match="ran out of replies.*cycle=True"):
        policy.act(QUESTION)


def test_scripted_policy_cycles_calls_functions_and_honours_stop_strings():
    assert ScriptedPolicy(["a", "b"], cycle=True).act_batch([QUESTION] * 3) == ["a", "b", "a"]
    echo = ScriptedPolicy(lambda messages: messages[-1]["content"].upper())
    assert echo.act(QUESTION) == "WHAT IS 2+3?"
    assert echo.act(QUESTION, stop=["+"]) == "WHAT IS 2"
    info = echo.act_with_info(QUESTION)
    assert info == Completion(text="WHAT IS 2+3?")


def test_call_overrides_apply_to_one_call_only():
    policy = ScriptedPolicy(["x"], cycle=True, sampling=Sampling(max_new_tokens=7))
    assert policy.resolve_sampling(None, {"temperature": 0.5}) == Sampling(max_new_tokens=7, temperature=0.5)
    assert policy.sampling == Sampling(max_new_tokens=7)
    with pytest.raises(TypeError):
        policy.act(QUESTION, temprature=0.5)


# --- HFPolicy on a tiny local model


def test_hf_policy_loads_on_the_default_device_and_dtype(tiny):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert tiny.device.type == expected
    assert tiny.model.dtype == default_dtype(tiny.device)
    assert default_dtype(torch.device("cuda")) == torch.bfloat16
    assert default_dtype(torch.device("cpu")) == torch.float32


def test_prompts_go_through_the_chat_template_and_are_counted(tiny):
    prompt = tiny.tokenizer.decode(tiny.prompt_ids(QUESTION))
    assert prompt == "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"
    completions = tiny.act_batch_with_info(CONVERSATIONS, max_new_tokens=12)
    for messages, completion in zip(CONVERSATIONS, completions):
        assert completion.prompt_tokens == len(tiny.prompt_ids(messages))
        assert 1 <= completion.completion_tokens <= 12
        assert completion.finish_reason in ("stop", "length")
        if completion.finish_reason == "length":
            assert completion.completion_tokens == 12
        assert completion.seconds > 0


def test_batched_greedy_generation_matches_one_at_a_time(tiny):
    # Prompts of different lengths share left-padded batches of 2: padding must not change any answer.
    batched = tiny.act_batch(CONVERSATIONS, max_new_tokens=16)
    alone = [tiny.act(messages, max_new_tokens=16) for messages in CONVERSATIONS]
    assert batched == alone
    assert len(set(batched)) > 1  # different prompts, different answers: the rows were not mixed up


def test_seeded_sampling_is_reproducible_and_leaves_the_global_rng_alone(tiny):
    rng_before = torch.get_rng_state()
    first = tiny.act_batch(CONVERSATIONS, temperature=1.0, seed=3, max_new_tokens=16)
    again = tiny.act_batch(CONVERSATIONS, temperature=1.0, seed=3, max_new_tokens=16)
    other = tiny.act_batch(CONVERSATIONS, temperature=1.0, seed=4, max_new_tokens=16)
    assert first == again
    assert first != other
    assert torch.equal(rng_before, torch.get_rng_state())


def test_stop_strings_end_the_reply_and_are_left_out(tiny):
    full = tiny.act(QUESTION, max_new_tokens=24)
    stop = next(ch for ch in full[1:] if ch.isascii() and ch.isalnum())
    stopped = tiny.act_with_info(QUESTION, max_new_tokens=24, stop=[stop])
    assert stopped.text == full[: full.index(stop)]
    assert stopped.finish_reason == "stop"


def test_a_prompt_longer_than_the_context_window_is_a_clear_error(tiny):
    too_long = [{"role": "user", "content": "step " * 1000}]
    with pytest.raises(ContextLengthError, match="reads at most 512"):
        tiny.act(too_long)


def test_hf_policy_wraps_a_loaded_model_and_needs_its_tokenizer(tiny):
    wrapped = HFPolicy(tiny.model, tokenizer=tiny.tokenizer)
    assert wrapped.act(QUESTION, max_new_tokens=8) == tiny.act(QUESTION, max_new_tokens=8)
    with pytest.raises(ValueError, match="needs its tokenizer"):
        HFPolicy(tiny.model)


# --- the OpenAI-compatible server and OpenAIPolicy over real HTTP


def test_openai_policy_round_trip_through_selfgym_serve(tiny, server):
    remote = OpenAIPolicy("tiny", base_url=server)
    local = tiny.act_batch_with_info(CONVERSATIONS, max_new_tokens=12)
    answers = remote.act_batch_with_info(CONVERSATIONS, max_new_tokens=12)  # concurrent requests, in order
    assert [a.text for a in answers] == [c.text for c in local]
    assert [(a.prompt_tokens, a.completion_tokens, a.finish_reason) for a in answers] == [
        (c.prompt_tokens, c.completion_tokens, c.finish_reason) for c in local
    ]
    seeded = [remote.act(QUESTION, temperature=1.0, seed=11, max_new_tokens=12) for _ in range(2)]
    assert seeded[0] == seeded[1] == tiny.act(QUESTION, temperature=1.0, seed=11, max_new_tokens=12)


def test_server_speaks_the_openai_protocol(tiny, server):
    client = OpenAIPolicy("tiny", base_url=server).client
    assert [model.id for model in client.models.list()] == ["tiny"]
    response = client.chat.completions.create(
        model="tiny", messages=QUESTION, n=3, temperature=1.0, max_tokens=5, seed=1
    )
    assert response.object == "chat.completion" and response.model == "tiny"
    assert [choice.index for choice in response.choices] == [0, 1, 2]
    assert all(choice.message.role == "assistant" for choice in response.choices)
    assert response.usage.prompt_tokens == len(tiny.prompt_ids(QUESTION))  # the prompt is counted once
    assert 3 <= response.usage.completion_tokens <= 15
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_server_errors_reach_the_client_as_clear_policy_errors(server):
    with pytest.raises(PolicyError, match=r"HTTP 404 .*'no-such-model'.*serves 'tiny'"):
        OpenAIPolicy("no-such-model", base_url=server).act(QUESTION)
    too_long = [{"role": "user", "content": "step " * 1000}]
    with pytest.raises(PolicyError, match="HTTP 400.*reads at most 512"):
        OpenAIPolicy("tiny", base_url=server).act(too_long)


def test_serve_runs_a_checkpoint_as_an_endpoint_in_its_own_process(tiny, tiny_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = f"from selfgym.agents.serve import serve; serve({str(tiny_path)!r}, port={port}, log_level='warning')"
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        policy = OpenAIPolicy(str(tiny_path), base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        deadline = time.monotonic() + 120
        while True:  # model loading takes a few seconds
            try:
                answer = policy.act(QUESTION, max_new_tokens=8)
                break
            except PolicyError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert answer == tiny.act(QUESTION, max_new_tokens=8)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        finally:
            process.kill()


@pytest.mark.parametrize("status", [503, 429])
def test_openai_policy_retries_overloaded_servers(tiny, status):
    app = create_app(tiny, "tiny")
    requests = []

    @app.middleware("http")
    async def overloaded_twice(request, call_next):
        requests.append(request.url.path)
        if len(requests) <= 2:
            return JSONResponse({"error": {"message": "busy"}}, status, headers={"retry-after-ms": "10"})
        return await call_next(request)

    with serve_in_thread(app) as url:
        with pytest.raises(PolicyError, match=f"HTTP {status}"):
            OpenAIPolicy("tiny", base_url=url, max_retries=1).act(QUESTION)
        requests.clear()
        assert OpenAIPolicy("tiny", base_url=url, max_retries=2).act(QUESTION, max_new_tokens=8) == tiny.act(
            QUESTION, max_new_tokens=8
        )
    assert len(requests) == 3


def test_an_unreachable_endpoint_is_a_clear_error():
    with socket.socket() as sock:  # a port that was free a moment ago and that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = OpenAIPolicy("tiny", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    expected = rf"cannot reach the model server at http://127.0.0.1:{port}/v1.*tried 2 times"
    with pytest.raises(PolicyError, match=expected):
        policy.act(QUESTION)


def test_an_api_key_is_required_only_for_the_hosted_api(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(PolicyError, match="OPENAI_API_KEY"):
        OpenAIPolicy("gpt-4o-mini")
    assert OpenAIPolicy("tiny", base_url="http://127.0.0.1:1/v1").client.api_key == "EMPTY"


def test_rate_limiter_spaces_request_starts():
    limiter = RateLimiter(per_second=50)
    started = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - started >= 5 / 50 * 0.99  # sleeping never ends early: 5 gaps of 20 ms at least
    with pytest.raises(ValueError):
        RateLimiter(per_second=0)


# --- the embedded SmolLM2


@pytest.mark.slow
def test_embedded_smollm2_converts_once_to_a_checkpoint_that_answers(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from selfgym.agents.smollm2 import smollm2_path

    monkeypatch.setenv("SELFGYM_CACHE", str(tmp_path))
    path = smollm2_path()
    assert path == tmp_path / "models" / "SmolLM2-135M-Instruct"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary folder left behind
    weights = path / "model.safetensors"
    converted_at = weights.stat().st_mtime_ns
    assert smollm2_path() == path and weights.stat().st_mtime_ns == converted_at  # converted once

    model = AutoModelForCausalLM.from_pretrained(path)
    assert not hasattr(model.config, "quantization_config")
    assert "<|im_start|>assistant" in AutoTokenizer.from_pretrained(path).apply_chat_template(
        QUESTION, add_generation_prompt=True, tokenize=False
    )

    policy = HFPolicy("smollm2", device="cpu")
    answers = [policy.act_with_info(QUESTION, max_new_tokens=32) for _ in range(2)]
    assert answers[0].text.strip()
    assert answers[0].text == answers[1].text
    assert answers[0].finish_reason in ("stop", "length")


class EchoPolicy(Policy):
    """Echoes the last message, records batch sizes; its first call waits until every request has arrived."""

    name = "echo"

    def __init__(self, requests: int) -> None:
        super().__init__()
        self.app = create_app(self, "echo")
        self.batches: list[int] = []
        self.submitted = 0
        batcher = self.app.state.batcher
        submit = batcher.submit

        def counting_submit(*args):
            self.submitted += 1
            return submit(*args)

        batcher.submit = counting_submit
        self.requests = requests

    def _complete(self, conversations, sampling):
        deadline = time.monotonic() + 30
        while self.submitted < self.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        self.batches.append(len(conversations))
        return [Completion(text=messages[-1]["content"]) for messages in conversations]


@pytest.mark.parametrize("seed", [None, 5])
def test_server_batches_concurrent_requests_but_runs_seeded_ones_alone(seed):
    policy = EchoPolicy(requests=8)
    questions = [[{"role": "user", "content": f"question {i}"}] for i in range(8)]
    with serve_in_thread(policy.app) as url:
        answers = OpenAIPolicy("echo", base_url=url, max_concurrency=8).act_batch(questions, seed=seed)
    assert answers == [f"question {i}" for i in range(8)]
    if seed is None:  # what queued while the first batch ran goes as one batch
        assert sum(policy.batches) == 8 and len(policy.batches) <= 2
    else:
        assert policy.batches == [1] * 8
