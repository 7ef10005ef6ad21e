"""The policy interface every agent backend implements: a chat history in, the assistant's next message out.

A policy is stateless between calls: the caller (a rollout, Reflexion, a trainer) owns the conversation and
passes the whole history each time, as with any chat-completion API. Backends implement one method,
:meth:`Policy._complete`, over a batch of conversations; the public ``act*`` methods are built on it.
"""

from __future__ import annotations

import dataclasses
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Message = Mapping[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

Conversation = Sequence[Message]


class PolicyError(RuntimeError):
    """A backend could not produce an answer (endpoint unreachable, server error, script exhausted, ...)."""


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
    generated from token ids (RL training keeps exactly what was sampled).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = "stop"
    token_ids: list[int] | None = None


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
        self, conversations: Sequence[Conversation], sampling: Sampling | None = None, **overrides: Any
    ) -> list[Completion]:
        """Like :meth:`act_batch`, with token counts, time and finish reason per reply."""
        conversations = [check_messages(messages) for messages in conversations]
        if not conversations:
            return []
        return self._complete(conversations, self.resolve_sampling(sampling, overrides))

    def resolve_sampling(
        self, sampling: Sampling | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Sampling:
        """The parameters of one call: ``sampling`` (or the policy's default) with ``overrides`` applied."""
        base = sampling or self.sampling
        return dataclasses.replace(base, **overrides) if overrides else base

    @abstractmethod
    def _complete(self, conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[Completion]:
        """One completion per conversation, in order. Conversations are already validated."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def check_messages(messages: Conversation) -> list[dict[str, str]]:
    """Validate a chat history and return it as plain dicts; a malformed one is a ``ValueError`` saying why.

    Policies are called by selfgym code, not by models, so a malformed history is a programming error.
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
            raise ValueError(f"messages[{i}] needs a 'role' string (system, user or assistant), got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}] ({role}) needs a 'content' string, got {type(content).__name__}")
        checked.append({"role": role, "content": content})
    if not checked:
        raise ValueError("messages is empty: a policy needs at least one message to answer")
    return checked


class ScriptedPolicy(Policy):
    """Replies from a script: a list of texts returned in order, or a function of the conversation.

    For tests and baselines (e.g. an oracle that submits the reference answer). Every call is recorded in
    :attr:`calls`. Token counts are 0: nothing is tokenized.

    >>> policy = ScriptedPolicy(["ls", "submit"])
    >>> policy.act([{"role": "user", "content": "list the files"}])
    'ls'
    """

    name = "scripted"

    def __init__(
        self,
        script: Iterable[str] | Callable[[list[dict[str, str]]], str],
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
            if not all(isinstance(reply, str) for reply in replies):
                raise ValueError("ScriptedPolicy replies must be strings")
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

    def _complete(self, conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[Completion]:
        completions = []
        for messages in conversations:
            self.calls.append(messages)
            text = self._respond(messages)
            if not isinstance(text, str):
                raise PolicyError(f"the ScriptedPolicy function returned {type(text).__name__}, not str")
            completions.append(Completion(text=truncate_at_stop(text, sampling.stop)[0]))
        return completions


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
