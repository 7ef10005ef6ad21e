"""The policy interface every agent backend implements: a chat history in, the assistant's next message out.

A policy is stateless between calls: the caller (a rollout, Reflexion, a trainer) owns the conversation and
passes the whole history each time, as with any chat-completion API. Backends implement one method,
:meth:`Policy._complete`, over a batch of conversations; the public ``act*`` methods are built on it. Backends that
call tools or report per-token log-probabilities also implement :meth:`Policy._complete_with`.

Tool calls follow the OpenAI chat format: ``act_batch_with_info(..., tools=[...])`` offers tools (OpenAI form,
e.g. an env's ``tool_schemas()``); a reply that calls them has ``Completion.tool_calls``; in the history, the
assistant's message carries its ``tool_calls`` and each result is a ``{"role": "tool", "tool_call_id": ...,
"content": ...}`` message. Arguments are kept as JSON objects (dicts), as chat templates take them.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..envs.task import Task

Message = Mapping[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant" | "tool", "content": "..."}``; an assistant
message may carry ``tool_calls``, a tool message its ``tool_call_id`` and ``name``."""

Conversation = Sequence[Message]


class PolicyError(RuntimeError):
    """A backend could not produce an answer (endpoint unreachable, server error, script exhausted, ...)."""


class ContextLengthError(PolicyError, ValueError):
    """A prompt does not fit in the model's context window.

    ``indices`` are the positions of the conversations that do not fit in the batch that was asked for (None
    when the backend cannot tell); ``completions``, when the backend answered the others anyway (a server is
    asked one conversation at a time), holds their replies, with None at ``indices``.
    """

    def __init__(self, message: str, *, indices: Sequence[int] | None = None,
                 completions: Sequence[Completion | None] | None = None) -> None:
        super().__init__(message)
        self.indices = list(indices) if indices is not None else None
        self.completions = list(completions) if completions is not None else None


@dataclass(frozen=True)
class Sampling:
    """How to sample a reply; the same fields mean the same thing for every backend.

    ``temperature=0`` is greedy decoding (the default, so that evaluations are reproducible); ``seed`` makes
    sampling reproducible where the backend allows it (local models always; servers such as vLLM and OpenAI
    on a best-effort basis). ``stop`` strings end the reply and are not part of it, as in the OpenAI API.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str):  # a lone string would otherwise be read as a tuple of characters
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One reply and what it cost.

    ``finish_reason`` is ``"stop"`` (end of turn or a stop string) or ``"length"`` (``max_new_tokens``
    reached).
    ``seconds`` is the wall time of the backend call that produced it; replies generated together in one batch
    share that call's time. ``token_ids``: the reply's own tokens, end-of-turn token included, where the caller
    generated from token ids (RL training keeps exactly what was sampled). ``tool_calls``: the tools the reply
    calls (OpenAI form, arguments as dicts; ``finish_reason`` is then ``"tool_calls"``), ``text`` being what it
    says besides. ``logprobs``: each generated token's log-probability, when asked for and the backend has them.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = "stop"
    token_ids: list[int] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: list[TokenLogprob] | None = None

    def message(self) -> dict[str, Any]:
        """The reply as the assistant's chat message (with its ``tool_calls``, if any)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


def tool_calls_as_json(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls with their arguments as JSON text, the way the OpenAI API writes them."""
    return [{**call, "function": {**call["function"], "arguments": arguments if isinstance(
        arguments := call["function"]["arguments"], str) else json.dumps(arguments)}} for call in calls]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, its log-probability, and the ``top`` alternatives as (text, logprob)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


def tool_call(name: str, arguments: Mapping[str, Any] | str, call_id: str | None = None) -> dict[str, Any]:
    """A tool call in the OpenAI form selfgym keeps in histories: arguments as a dict, an id to answer it by."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            pass  # kept as the model wrote it: the env says what is wrong with it
    arguments = dict(arguments) if isinstance(arguments, Mapping) else arguments
    return {"id": call_id or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


class Policy(ABC):
    """Maps a chat history to the assistant's next message.

    ``sampling`` is the default for every call; any call can override fields of it by keyword, e.g.
    ``policy.act(messages, temperature=0.7, seed=1)``.
    """

    name: str = "policy"

    def __init__(self, sampling: Sampling | None = None) -> None:
        self.sampling = sampling or Sampling()

    def act(self, messages: Conversation, sampling: Sampling | None = None, **overrides: Any) -> str:
        """The assistant's reply to ``messages``."""
        return self.act_with_info(messages, sampling, **overrides).text

    def act_batch(
        self, conversations: Sequence[Conversation], sampling: Sampling | None = None, **overrides: Any
    ) -> list[str]:
        """Replies to several independent conversations, generated together where the backend can batch."""
        return [c.text for c in self.act_batch_with_info(conversations, sampling, **overrides)]

    def act_with_info(
        self, messages: Conversation, sampling: Sampling | None = None, **overrides: Any
    ) -> Completion:
        """Like :meth:`act`, with token counts, time and finish reason."""
        return self.act_batch_with_info([messages], sampling, **overrides)[0]

    def act_batch_with_info(
        self, conversations: Sequence[Conversation], sampling: Sampling | None = None, *,
        tools: Sequence[Mapping[str, Any]] | None = None, logprobs: int | None = None, **overrides: Any
    ) -> list[Completion]:
        """Like :meth:`act_batch`, with token counts, time and finish reason per reply. ``tools`` (OpenAI form)
        may be called in the replies; ``logprobs`` asks for each token's log-probability and that many top
        alternatives (0: the token's own only), where the backend has them."""
        conversations = [check_messages(messages) for messages in conversations]
        if not conversations:
            return []
        sampling = self.resolve_sampling(sampling, overrides)
        if tools or logprobs is not None:
            return self._complete_with(conversations, sampling, tools=[dict(t) for t in tools or []],
                                       logprobs=logprobs)
        return self._complete(conversations, sampling)

    def expect(self, env_class: type, task: Task) -> None:
        """``task`` of an env of ``env_class`` is about to be played with this policy (the rollout loop says so
        for every episode). Models ignore it; a scripted oracle learns from it which task a conversation is."""

    def resolve_sampling(
        self, sampling: Sampling | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Sampling:
        """The parameters of one call: ``sampling`` (or the policy's default) with ``overrides`` applied."""
        base = sampling or self.sampling
        return dataclasses.replace(base, **overrides) if overrides else base

    @abstractmethod
    def _complete(self, conversations: list[list[dict[str, Any]]], sampling: Sampling) -> list[Completion]:
        """One completion per conversation, in order. Conversations are already validated."""

    def _complete_with(self, conversations: list[list[dict[str, Any]]], sampling: Sampling, *,
                       tools: list[dict[str, Any]], logprobs: int | None) -> list[Completion]:
        """Like :meth:`_complete`, offering ``tools`` and reporting ``logprobs``. Backends without log-probabilities
        leave them out; one that cannot call tools says so."""
        if tools:
            raise PolicyError(f"{type(self).__name__} cannot call tools")
        return self._complete(conversations, sampling)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def check_messages(messages: Conversation) -> list[dict[str, Any]]:
    """Validate a chat history and return it as plain dicts; a malformed one is a ``ValueError`` saying why.

    Policies are called by selfgym code, not by models, so a malformed history is a programming error. An
    assistant message keeps its ``tool_calls`` (its ``content`` may then be None, read as ""), a ``tool`` message
    its ``tool_call_id`` and ``name``.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Iterable):
        raise ValueError(
            f"messages must be a list of {{'role': ..., 'content': ...}} dicts, got {type(messages).__name__}"
        )
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ValueError(
                f"messages[{i}] must be a dict with 'role' and 'content', got {type(message).__name__}"
            )
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            raise ValueError(f"messages[{i}] needs a 'role' string (system, user, assistant or tool), got {role!r}")
        calls = message.get("tool_calls") if role == "assistant" else None
        if content is None and calls:
            content = ""
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}] ({role}) needs a 'content' string, got {type(content).__name__}")
        item: dict[str, Any] = {"role": role, "content": content}
        if calls:
            if not isinstance(calls, Sequence) or not all(isinstance(c, Mapping) for c in calls):
                raise ValueError(f"messages[{i}]: tool_calls must be a list of tool call objects")
            item["tool_calls"] = [dict(c) for c in calls]
        if role == "tool":
            item.update({key: str(message[key]) for key in ("tool_call_id", "name") if message.get(key) is not None})
        checked.append(item)
    if not checked:
        raise ValueError("messages is empty: a policy needs at least one message to answer")
    return checked


class ScriptedPolicy(Policy):
    """Replies from a script: a list of texts returned in order, or a function of the conversation.

    For tests and baselines (e.g. an oracle that submits the reference answer). Every call is recorded in
    :attr:`calls`. Token counts are 0: nothing is tokenized. A reply may be a tool call instead of text:
    ``{"name": "bash", "arguments": {"command": "ls"}}`` (or a list of them), which the reply then calls.

    >>> policy = ScriptedPolicy(["ls", "submit"])
    >>> policy.act([{"role": "user", "content": "list the files"}])
    'ls'
    """

    name = "scripted"

    def __init__(
        self,
        script: Iterable[str | Mapping[str, Any] | list] | Callable[[list[dict[str, Any]]], str | Mapping[str, Any]],
        *,
        cycle: bool = False,
        sampling: Sampling | None = None,
    ) -> None:
        super().__init__(sampling)
        self.calls: list[list[dict[str, str]]] = []
        if callable(script):
            self._respond = script
        else:
            replies = list(script)
            if not replies:
                raise ValueError("ScriptedPolicy needs at least one reply")
            if not all(isinstance(reply, (str, Mapping, list)) for reply in replies):
                raise ValueError("ScriptedPolicy replies must be strings or tool calls")
            self._replies = itertools.cycle(replies) if cycle else iter(replies)
            self._count = len(replies)
            self._respond = self._next_reply

    def _next_reply(self, messages: list[dict[str, str]]) -> str:
        try:
            return next(self._replies)
        except StopIteration:
            raise PolicyError(
                f"ScriptedPolicy ran out of replies: the script has {self._count} and this is call "
                f"{len(self.calls)} (pass cycle=True to repeat it)"
            ) from None

    def _complete(self, conversations: list[list[dict[str, Any]]], sampling: Sampling) -> list[Completion]:
        completions = []
        for messages in conversations:
            self.calls.append(messages)
            reply = self._respond(messages)
            if isinstance(reply, (Mapping, list)):
                calls = [reply] if isinstance(reply, Mapping) else reply
                completions.append(Completion(text="", finish_reason="tool_calls", tool_calls=[
                    tool_call(c["name"], c.get("arguments", {}), c.get("id")) for c in calls]))
                continue
            if not isinstance(reply, str):
                raise PolicyError(f"the ScriptedPolicy function returned {type(reply).__name__}, not str")
            completions.append(Completion(text=truncate_at_stop(reply, sampling.stop)[0]))
        return completions

    def _complete_with(self, conversations: list[list[dict[str, Any]]], sampling: Sampling, *,
                       tools: list[dict[str, Any]], logprobs: int | None) -> list[Completion]:
        return self._complete(conversations, sampling)  # the script decides whether to call a tool


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class LockedPolicy(Policy):
    """Lets several threads share a policy that serves one at a time (a local model): calls take turns."""

    def __init__(self, inner: Policy) -> None:
        super().__init__(inner.sampling)
        self.inner = inner
        self.name = inner.name
        self._lock = threading.Lock()

    def expect(self, env_class: type, task: Task) -> None:
        self.inner.expect(env_class, task)

    def _complete(self, conversations: list[list[dict[str, Any]]], sampling: Sampling) -> list[Completion]:
        with self._lock:
            return self.inner.act_batch_with_info(conversations, sampling)

    def _complete_with(self, conversations: list[list[dict[str, Any]]], sampling: Sampling, *,
                       tools: list[dict[str, Any]], logprobs: int | None) -> list[Completion]:
        with self._lock:
            return self.inner.act_batch_with_info(conversations, sampling, tools=tools, logprobs=logprobs)
