"""Serve a policy as an OpenAI-compatible chat-completions endpoint, so that trained checkpoints can be
evaluated and compared like any hosted or vLLM-served model (``OpenAIPolicy`` is the matching client).

Endpoints: ``POST /v1/chat/completions`` (messages, temperature, top_p, max_tokens, n, seed, stop; no
streaming), ``GET /v1/models`` and ``GET /health``. Concurrent requests with the same sampling parameters are
generated together in one batch; seeded requests run alone, so that their result does not depend on what
else was in flight.

A request the model cannot answer is a 400 naming the field at fault, never a 500: roles other than
``system``, ``user`` and ``assistant``, text with unpaired surrogates, empty stop strings, seeds outside the
64-bit range OpenAI allows, and prompts longer than the context window. A prompt with more characters than
the context window could hold is refused before it is tokenized, so a huge message cannot keep the one
worker busy; in a batch, an over-long prompt fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException

from .policy import Completion, ContextLengthError, Policy, Sampling

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


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart] | None = None

    @field_validator("content")
    @classmethod
    def _valid_content(cls, content):
        return _unicode(content) if isinstance(content, str) else content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


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
    messages: list[dict[str, str]]
    sampling: Sampling
    n: int
    done: Future = field(default_factory=Future)


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

    def submit(self, messages: list[dict[str, str]], sampling: Sampling, n: int) -> Future:
        job = _Job(messages, sampling, n)
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
                groups[i if job.sampling.seed is not None else job.sampling].append(job)
            for group in groups.values():
                self._run(group)

    def _run(self, group: list[_Job]) -> None:
        conversations = [job.messages for job in group for _ in range(job.n)]
        try:
            completions = self.policy.act_batch_with_info(conversations, group[0].sampling)
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


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | int | None = None
           ) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code or status}}, status)


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

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title=f"selfgym: {model_name}", lifespan=lifespan)
    app.state.batcher = batcher

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in error.errors()
        )
        return _error(400, f"invalid request: {details}")

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
            return _error(404, message, "NotFoundError")
        if request.stream:
            return _error(400, "streaming is not supported by selfgym serve; send stream=false")
        try:
            sampling = request.sampling(policy.sampling)
        except ValueError as error:
            return _error(400, str(error))
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        chars = sum(len(m["content"]) for m in messages)
        if char_limit is not None and chars > char_limit:
            return _error(400, f"the messages hold {chars:,} characters; {model_name} reads at most "
                               f"{policy.context_length} tokens, which cannot hold more than {char_limit:,}",
                          code=CONTEXT_LENGTH_EXCEEDED)
        try:
            completions = await asyncio.wrap_future(batcher.submit(messages, sampling, request.n))
        except ContextLengthError as error:
            return _error(400, str(error), code=CONTEXT_LENGTH_EXCEEDED)
        except ValueError as error:
            return _error(400, str(error))
        except Exception as error:
            return _error(500, f"{type(error).__name__}: {error}", "internal_server_error")
        return completion_response(model_name, completions)

    return app


def completion_response(model_name: str, completions: list[Completion]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for the ``n`` completions of one prompt."""
    prompt_tokens = completions[0].prompt_tokens  # the prompt is counted once, as OpenAI does
    completion_tokens = sum(c.completion_tokens for c in completions)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
            for i, c in enumerate(completions)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
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
