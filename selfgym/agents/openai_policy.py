"""A policy backed by any OpenAI-compatible chat-completions endpoint: vLLM, ``selfgym serve``, hosted APIs.

Retries (connection errors, 408/409/429/5xx, with exponential backoff that honours ``Retry-After``) are the
``openai`` client's own; this module adds a client-side request-rate limit, concurrent batches, and errors
that name the endpoint. Tools pass through as ``tools=`` and come back as ``tool_calls``; ``logprobs`` as the API's.
"""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

from .policy import (Completion, ContextLengthError, Policy, PolicyError, Sampling, TokenLogprob, tool_call,
                     tool_calls_as_json)

# How servers say a prompt is longer than the model's context: OpenAI (code context_length_exceeded), vLLM
# ("This model's maximum context length is ..."), selfgym serve ("... reads at most N tokens").
_CONTEXT_LENGTH = re.compile(
    r"maximum context length|context_length_exceeded|context window|reads at most \d+ tokens", re.IGNORECASE)


class RateLimiter:
    """Spaces request starts at least ``1 / per_second`` seconds apart, across threads."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {per_second}")
        self.interval = 1.0 / per_second
        self._lock = threading.Lock()
        self._next_start = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            time.sleep(start - now)


class OpenAIPolicy(Policy):
    """Asks an OpenAI-compatible server for each reply.

    Args:
        model: the model name the server knows (``GET /v1/models`` lists them).
        base_url: e.g. ``http://127.0.0.1:8000/v1``; by default ``$OPENAI_BASE_URL`` or OpenAI's API.
        api_key: by default ``$OPENAI_API_KEY``; local servers that check no key get a placeholder.
        sampling: the default sampling parameters of every call.
        max_retries: retries per request after the first attempt (the client backs off exponentially).
        timeout_s: time limit of one HTTP request.
        requests_per_second: client-side cap on the request rate (None: no cap).
        max_concurrency: how many requests of one ``act_batch`` are in flight at once.

    >>> policy = OpenAIPolicy("my-model", base_url="http://127.0.0.1:8000/v1")   # doctest: +SKIP
    >>> policy.act([{"role": "user", "content": "What is 2+3?"}])                  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        sampling: Sampling | None = None,
        max_retries: int = 5,
        timeout_s: float = 300.0,
        requests_per_second: float | None = None,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(sampling)
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if api_key is None:
            if base_url is None:
                raise PolicyError(
                    "OpenAIPolicy needs an API key for api.openai.com: set OPENAI_API_KEY or pass api_key="
                )
            api_key = "EMPTY"  # vLLM and `selfgym serve` accept any key unless started with one
        self.name = model
        self.model = model
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout_s
        )
        self.base_url = str(self.client.base_url)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.rate_limiter = RateLimiter(requests_per_second) if requests_per_second else None

    def _complete(self, conversations: list[list[dict[str, Any]]], sampling: Sampling) -> list[Completion]:
        return self._complete_with(conversations, sampling, tools=[], logprobs=None)

    def _complete_with(self, conversations: list[list[dict[str, Any]]], sampling: Sampling, *,
                       tools: list[dict[str, Any]], logprobs: int | None) -> list[Completion]:
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        if logprobs is not None:
            extra.update(logprobs=True, top_logprobs=logprobs)
        if len(conversations) == 1:
            return [self._request(conversations[0], sampling, extra)]

        def ask(messages: list[dict[str, Any]]) -> Completion | ContextLengthError:
            try:
                return self._request(messages, sampling, extra)
            except ContextLengthError as error:  # the others' replies are kept (and paid for): see below
                return error

        with ThreadPoolExecutor(min(self.max_concurrency, len(conversations))) as pool:
            results = list(pool.map(ask, conversations))
        too_long = [i for i, result in enumerate(results) if isinstance(result, ContextLengthError)]
        if too_long:
            raise ContextLengthError(f"conversation {too_long[0]}: {results[too_long[0]]}", indices=too_long,
                                     completions=[None if i in too_long else r for i, r in enumerate(results)])
        return results

    def request_params(self, sampling: Sampling) -> dict[str, Any]:
        """The chat-completions parameters that carry ``sampling``."""
        params: dict[str, Any] = {
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.seed is not None:
            params["seed"] = sampling.seed
        if sampling.stop:
            params["stop"] = list(sampling.stop)
        return params

    def _request(self, messages: list[dict[str, Any]], sampling: Sampling, extra: dict[str, Any] | None = None
                 ) -> Completion:
        if self.rate_limiter is not None:
            self.rate_limiter.wait()
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=wire_messages(messages), **self.request_params(sampling), **(extra or {})
            )
        except openai.APIConnectionError as error:
            raise PolicyError(
                f"cannot reach the model server at {self.base_url} "
                f"(tried {self.max_retries + 1} times): {error}"
                + (f" ({error.__cause__})" if error.__cause__ else "")
            ) from error
        except openai.APIStatusError as error:
            problem = f"{self.base_url} answered HTTP {error.status_code} for model {self.model!r}: {error.message}"
            if error.status_code == 400 and (error.code == "context_length_exceeded"
                                             or _CONTEXT_LENGTH.search(error.message or "")):
                raise ContextLengthError(problem) from error
            raise PolicyError(problem) from error
        seconds = time.perf_counter() - started
        if not response.choices:
            raise PolicyError(f"{self.base_url} returned no choices for model {self.model!r}")
        choice = response.choices[0]
        usage = response.usage
        calls = [tool_call(c.function.name, c.function.arguments, c.id)
                 for c in choice.message.tool_calls or [] if getattr(c, "function", None) is not None]
        content = choice.logprobs.content if choice.logprobs is not None else None
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=seconds,
            finish_reason=choice.finish_reason or "stop",
            tool_calls=calls or None,
            logprobs=[TokenLogprob(t.token, t.logprob, tuple((a.token, a.logprob) for a in t.top_logprobs or ()))
                      for t in content] if content is not None else None,
        )


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A history as the OpenAI API takes it: tool-call arguments as JSON text."""
    return [{**m, "tool_calls": tool_calls_as_json(m["tool_calls"])} if m.get("tool_calls") else m for m in messages]
