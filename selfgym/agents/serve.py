"""Serve a policy as an OpenAI-compatible chat-completions endpoint, so that trained checkpoints can be
evaluated and compared like any hosted or vLLM-served model (``OpenAIPolicy`` is the matching client).

Endpoints: ``POST /v1/chat/completions`` (messages, temperature, top_p, max_tokens, n, seed, stop, ``stream``
with ``stream_options.include_usage``, ``logprobs`` and ``top_logprobs``, ``tools`` with ``tool_choice`` ``auto``
or ``none``), ``GET /v1/models`` and ``GET /health``. ``usage.completion_tokens`` counts the tokens ``logprobs``
lists (the end-of-turn token included when the model generated it). Concurrent requests with the same parameters
are generated together in one batch; seeded and streamed requests run alone, so that their result does not depend on what
else was in flight.

Streaming is Server-Sent Events in OpenAI's ``chat.completion.chunk`` form, the text coming as the model
generates it (one reply at a time; with ``n`` > 1 each reply comes whole). Log-probabilities are of the raw
model (before temperature and top-p); in a stream they arrive with the last chunk of each reply. Tools are
rendered by the model's chat template and calls read back from its reply (:mod:`.tool_parsing`); a reply that
calls a tool has ``tool_calls`` and finish reason ``tool_calls``, and with tools a streamed reply comes whole at
its end (a tool call cannot be told from text before it is complete).

A request the model cannot answer is a 400 naming the field at fault (the error's ``param``), never a 500: roles
other than ``system``, ``user``, ``assistant`` and ``tool``, text with unpaired surrogates, empty stop strings,
seeds outside the 64-bit range OpenAI allows (negative ones inside it are answered), ``tools`` for a model whose
chat template does not show them, a ``tool_choice`` without tools or naming a tool not offered, a ``tool_choice``
that forces a call (``required`` or a named function: generation here is not constrained to a call, so rather
than answer with a reply that may not be one, the request is refused), and prompts longer than the context
window. A prompt with more characters than
the context window could hold is refused before it is tokenized, so a huge message cannot keep the one
worker busy; in a batch, an over-long prompt fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException

from .policy import (Completion, ContextLengthError, Policy, PolicyError, Sampling, TokenLogprob, tool_call,
                     tool_calls_as_json)
from .tool_parsing import check_template_renders_tools

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"  # OpenAI's error code for a prompt that does not fit


def _unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"the text has an unpaired surrogate at character {error.start}; send valid Unicode "
                         "(UTF-8) text") from None
    return text


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str

    @field_validator("text")
    @classmethod
    def _valid_text(cls, text: str) -> str:
        return _unicode(text)


class CalledFunction(BaseModel):
    name: str
    arguments: str = "{}"


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @field_validator("content")
    @classmethod
    def _valid_content(cls, content):
        return _unicode(content) if isinstance(content, str) else content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""

    def message(self) -> dict[str, Any]:
        """The message as a policy takes it (tool-call arguments as dicts)."""
        message: dict[str, Any] = {"role": self.role, "content": self.text()}
        if self.tool_calls:
            message["tool_calls"] = [tool_call(c.function.name, c.function.arguments, c.id) for c in self.tool_calls]
        if self.role == "tool":
            message.update({k: v for k, v in (("tool_call_id", self.tool_call_id), ("name", self.name)) if v})
        return message


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpec(BaseModel):
    type: Literal["function"] = "function"
    function: ToolFunction


class ChosenFunction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str


class NamedToolChoice(BaseModel):
    """``tool_choice`` naming the function the reply must call."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["function"] = "function"
    function: ChosenFunction


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat-completions request that a local policy can honour; unset fields take the
    served policy's defaults."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=128)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # OpenAI's range (int64)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None

    def tool_choice_refusal(self) -> tuple[str, str] | None:
        """Why ``tool_choice`` cannot be honoured, and the field at fault (None: it can)."""
        choice = self.tool_choice
        if choice in (None, "auto", "none"):
            return None
        names = [tool.function.name for tool in self.tools or []]
        if not names:
            return "tool_choice", "tool_choice is only allowed when tools are given"
        if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
            return "tool_choice.function.name", (f"tool_choice names the function {choice.function.name!r}, which "
                                                 f"is not among the tools ({', '.join(names)})")
        forced = "a call of " + repr(choice.function.name) if isinstance(choice, NamedToolChoice) else "a tool call"
        return "tool_choice", (f"selfgym serve cannot force {forced}: its generation is not constrained to a call, "
                               "so the reply might not be one; send tool_choice 'auto' (the model may call a tool) "
                               "or 'none'")

    def offered_tools(self) -> list[dict[str, Any]]:
        """The tools the model may call (none with ``tool_choice: none``)."""
        return [] if self.tool_choice == "none" else [t.model_dump() for t in self.tools or []]

    def logprobs_wanted(self) -> int | None:
        """How many alternatives per token (None: no log-probabilities)."""
        return (self.top_logprobs or 0) if self.logprobs else None

    @field_validator("stop")
    @classmethod
    def _stop_strings(cls, stop):
        strings = [stop] if isinstance(stop, str) else stop or []
        if any(not text for text in strings):
            raise ValueError("stop strings must not be empty (an empty one would end every reply at once)")
        for text in strings:
            _unicode(text)
        return stop

    def sampling(self, default: Sampling) -> Sampling:
        fields: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "seed": self.seed,
            "stop": (self.stop,) if isinstance(self.stop, str) else self.stop,
        }
        return replace(default, **{k: v for k, v in fields.items() if v is not None})


@dataclass
class _Job:
    messages: list[dict[str, Any]]
    sampling: Sampling
    n: int
    tools: list[dict[str, Any]] = field(default_factory=list)
    logprobs: int | None = None
    on_text: Callable[[str], None] | None = None  # a streamed reply's text, as it comes
    done: Future = field(default_factory=Future)

    @property
    def batch_key(self) -> tuple:
        """Jobs with equal keys are generated in one batch."""
        return self.sampling, json.dumps(self.tools, sort_keys=True), self.logprobs


class _Batcher:
    """One worker thread owns the policy (models are not thread-safe); it takes every job waiting in the queue
    and generates jobs with equal sampling parameters as one batch."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="selfgym-serve-batcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def submit(self, job: _Job) -> Future:
        self.jobs.put(job)
        return job.done

    def _work(self) -> None:
        stopping = False
        while not stopping:
            waiting = [self.jobs.get()]
            with contextlib.suppress(queue.Empty):
                while waiting[-1] is not None:
                    waiting.append(self.jobs.get_nowait())
            if waiting[-1] is None:
                stopping = True
                waiting.pop()
            groups: dict[Any, list[_Job]] = defaultdict(list)
            for i, job in enumerate(waiting):
                alone = job.sampling.seed is not None or job.on_text is not None
                groups[i if alone else job.batch_key].append(job)
            for group in groups.values():
                if group[0].on_text is not None and self._streams(group[0]):
                    self._stream(group[0])
                else:
                    self._run(group)

    def _streams(self, job: _Job) -> bool:
        """Whether ``job``'s reply can come as it is generated (else it comes whole at its end)."""
        return job.n == 1 and not job.tools and callable(getattr(self.policy, "stream", None))

    def _stream(self, job: _Job) -> None:
        try:
            completion = self.policy.stream(job.messages, job.sampling, job.on_text, logprobs=job.logprobs)
        except Exception as error:
            job.done.set_exception(error)
            return
        job.done.set_result([completion])

    def _run(self, group: list[_Job]) -> None:
        conversations = [job.messages for job in group for _ in range(job.n)]
        try:
            completions = self.policy.act_batch_with_info(conversations, group[0].sampling, tools=group[0].tools,
                                                          logprobs=group[0].logprobs)
        except Exception as error:  # handed to the request that asked; the server keeps serving
            if len(group) > 1:  # one request's fault (an over-long prompt) must not fail the others
                for job in group:
                    self._run([job])
                return
            group[0].done.set_exception(error)
            return
        start = 0
        for job in group:
            job.done.set_result(completions[start : start + job.n])
            start += job.n


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | int | None = None,
           param: str | None = None) -> JSONResponse:
    """OpenAI's error object; ``param`` names the request's field at fault."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code or status}},
                        status)


def tools_refusal(policy: Policy) -> str | None:
    """Why ``policy`` cannot be offered tools (None: it can): a chat template that does not show them, or a
    backend that cannot call tools."""
    tokenizer = getattr(policy, "tokenizer", None)
    if tokenizer is not None:
        try:
            check_template_renders_tools(tokenizer, policy.name)
        except PolicyError as error:
            return str(error)
        return None
    if type(policy)._complete_with is Policy._complete_with:
        return f"{policy.name} ({type(policy).__name__}) cannot call tools"
    return None


def prompt_char_limit(policy: Policy) -> int | None:
    """The most characters a prompt that fits ``policy``'s context window can have (None: no known window).

    A token stands for at most as many characters as its longest vocabulary entry has (byte-level entries have
    one character per byte), so a prompt with more characters than ``context_length`` times that cannot fit,
    whatever the chat template adds.
    """
    context_length = getattr(policy, "context_length", None)
    tokenizer = getattr(policy, "tokenizer", None)
    if context_length is None or tokenizer is None:
        return None
    return context_length * max(len(token) for token in tokenizer.get_vocab())


def create_app(policy: Policy, model_name: str) -> FastAPI:
    """A FastAPI app serving ``policy`` under the model name ``model_name``."""
    batcher = _Batcher(policy)
    created = int(time.time())
    char_limit = prompt_char_limit(policy)
    cannot_call_tools: list[str | None] = []  # asked once, at the first request with tools

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title=f"selfgym: {model_name}", lifespan=lifespan)
    app.state.batcher = batcher

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, error: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"][1:]) for e in error.errors()]
        details = "; ".join(f"{name or 'body'}: {e['msg']}" for name, e in zip(fields, error.errors()))
        return _error(400, f"invalid request: {details}", param=fields[0] if fields and fields[0] else None)

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException) -> JSONResponse:  # e.g. a body that is not UTF-8 JSON
        kind = "invalid_request_error" if error.status_code < 500 else "internal_server_error"
        return _error(error.status_code, f"invalid request: {error.detail}", kind)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "selfgym"}],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: ChatRequest) -> Any:
        if request.model is not None and request.model != model_name:
            message = f"the model {request.model!r} does not exist; this server serves {model_name!r}"
            return _error(404, message, "NotFoundError", param="model")
        if request.top_logprobs is not None and not request.logprobs:
            return _error(400, "top_logprobs needs logprobs: true", param="top_logprobs")
        refusal = request.tool_choice_refusal()
        if refusal is not None:
            return _error(400, refusal[1], param=refusal[0])
        if request.offered_tools():
            if not cannot_call_tools:
                cannot_call_tools.append(await asyncio.get_running_loop().run_in_executor(None, tools_refusal,
                                                                                          policy))
            if cannot_call_tools[0] is not None:
                return _error(400, f"tools: {cannot_call_tools[0]}", param="tools")
        try:
            sampling = request.sampling(policy.sampling)
        except ValueError as error:
            return _error(400, str(error))
        messages = [m.message() for m in request.messages]
        chars = sum(len(m["content"]) for m in messages)
        if char_limit is not None and chars > char_limit:
            return _error(400, f"the messages hold {chars:,} characters; {model_name} reads at most "
                               f"{policy.context_length} tokens, which cannot hold more than {char_limit:,}",
                          code=CONTEXT_LENGTH_EXCEEDED, param="messages")
        job = _Job(messages, sampling, request.n, request.offered_tools(), request.logprobs_wanted())
        if request.stream:
            return await _stream_response(job, batcher, model_name, request)
        try:
            completions = await asyncio.wrap_future(batcher.submit(job))
        except Exception as error:
            return _failure(error)
        return completion_response(model_name, completions)

    return app


def _failure(error: Exception) -> JSONResponse:
    """The error response for what generating a reply raised."""
    if isinstance(error, ContextLengthError):
        return _error(400, str(error), code=CONTEXT_LENGTH_EXCEEDED, param="messages")
    if isinstance(error, ValueError):
        return _error(400, str(error))
    return _error(500, f"{type(error).__name__}: {error}", "internal_server_error")


async def _stream_response(job: _Job, batcher: _Batcher, model_name: str, request: ChatRequest) -> Any:
    """Server-Sent Events for ``job``: a role chunk, the text as it comes, each reply's rest (tool calls,
    log-probabilities) and finish reason, the usage if asked, ``[DONE]``. An error before the first piece of text
    is an ordinary error response."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()
    job.on_text = lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text)
    done = asyncio.wrap_future(batcher.submit(job))
    first = asyncio.ensure_future(pieces.get())
    await asyncio.wait({first, done}, return_when=asyncio.FIRST_COMPLETED)
    if not first.done() and done.exception() is not None:
        first.cancel()
        return _failure(done.exception())
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model_name,
                "choices": choices, **extra}
        return f"data: {json.dumps(body)}\n\n"

    def delta(index: int, content: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict:
        return {"index": index, "delta": content, "finish_reason": finish, "logprobs": logprobs}

    async def events() -> AsyncIterator[str]:
        streamed = 0
        yield chunk([delta(i, {"role": "assistant", "content": ""}) for i in range(job.n)])
        getter = first
        while True:
            if not getter.done():
                await asyncio.wait({getter, done}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():  # the reply is complete: every piece of it was queued before it completed
                getter.cancel()
                break
            text = getter.result()
            streamed += len(text)
            yield chunk([delta(0, {"content": text})])
            getter = asyncio.ensure_future(pieces.get())
        while not pieces.empty():
            text = pieces.get_nowait()
            streamed += len(text)
            yield chunk([delta(0, {"content": text})])
        if done.exception() is not None:
            failure = json.loads(_failure(done.exception()).body)
            yield f"data: {json.dumps(failure)}\n\n"
            return
        completions = done.result()
        for index, completion in enumerate(completions):
            message = _choice(index, completion)
            rest = completion.text[streamed:] if index == 0 else completion.text
            content: dict[str, Any] = {"content": rest} if rest else {}
            if completion.tool_calls:
                calls = message["message"]["tool_calls"]
                content["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
            yield chunk([delta(index, content, completion.finish_reason, message["logprobs"])])
        if request.stream_options is not None and request.stream_options.include_usage:
            yield chunk([], usage=_usage(completions))
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _logprobs(tokens: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if tokens is None:
        return None

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8", "surrogatepass"))}

    return {"content": [{**entry(t.token, t.logprob), "top_logprobs": [entry(a, lp) for a, lp in t.top]}
                        for t in tokens], "refusal": None}


def _choice(index: int, completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["tool_calls"] = tool_calls_as_json(completion.tool_calls)
        message["content"] = completion.text or None
    return {"index": index, "message": message, "finish_reason": completion.finish_reason,
            "logprobs": _logprobs(completion.logprobs)}


def _usage(completions: list[Completion]) -> dict[str, int]:
    prompt_tokens = completions[0].prompt_tokens  # the prompt is counted once, as OpenAI does
    completion_tokens = sum(c.completion_tokens for c in completions)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_response(model_name: str, completions: list[Completion]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for the ``n`` completions of one prompt."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [_choice(i, c) for i, c in enumerate(completions)],
        "usage": _usage(completions),
    }


def serve(
    model: str | os.PathLike = "smollm2",
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
    device: str | None = None,
    batch_size: int = 8,
    log_level: str = "info",
) -> None:
    """Load ``model`` as an :class:`~selfgym.agents.hf.HFPolicy` and serve it until interrupted.

    ``model`` is a checkpoint path, a hub name or ``"smollm2"``; clients ask for it as ``model_name``
    (default: ``model`` as given, like vLLM's ``--served-model-name``).
    """
    from .hf import HFPolicy

    policy = HFPolicy(model, device=device, batch_size=batch_size)
    uvicorn.run(create_app(policy, model_name or str(model)), host=host, port=port, log_level=log_level)


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread; yields its base URL (``http://host:port/v1``).

    ``port=0`` picks a free port. The server stops when the block ends.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="selfgym-serve", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {host}:{sock.getsockname()[1]} did not start")
            time.sleep(0.01)
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
