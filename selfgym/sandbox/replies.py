"""What the executor may answer, as strict schemas: a reply that does not fit is a broken sandbox, never a result.

The executor (:mod:`selfgym.sandbox.supervisor`) is out of the agent's reach, but the host still treats every byte
from a container as hostile: each reply is bounded in size by the channel, then validated here (types exact, no
unknown fields, base64 that decodes, numbers in range) before anything is read from it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


def _base64(text: str) -> str:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    return text


Base64 = Annotated[str, AfterValidator(_base64)]
ExitCode = Annotated[int, Field(ge=0, le=255 + 128)]


class _Reply(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    ok: bool
    id: int | None = None
    error: str | None = Field(default=None, max_length=1 << 16)
    lost: bool | None = None  # the episode broke under the request: the sandbox cannot go on


class Hello(_Reply):
    ready: bool
    protocol: int
    pid: int
    uid: int
    undumpable: bool
    agent_uid: int
    verifier_uid: int
    episode_error: str | None = Field(default=None, max_length=1 << 16)  # why no episode could be made


class SubjectReply(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    exit_code: ExitCode | None
    stderr: Base64


class RunReply(_Reply):
    exit_code: ExitCode
    stdout: Base64
    stderr: Base64
    duration_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    timed_out: bool
    oom_killed: bool
    truncated: bool
    disk_full: bool
    pids_limited: bool
    subject: SubjectReply | None = None


class ReadReply(_Reply):
    data: Base64


class PingReply(_Reply):
    pid: int
    uid: int
    python: str = Field(max_length=64)
    episode_server: int  # the pid (in the container's namespace) of the current episode's first process
    episodes: int  # episodes made so far (the current one and the spares included)
    spares: int  # episodes made ahead of time for the next resets
    network: str = Field(max_length=16)  # "fresh": each episode has its own network namespace; "container"


def parse(model: type[_Reply], message: dict[str, Any]) -> _Reply:
    """``message`` as ``model`` (or as a plain failure reply, ``ok`` false); ``ValueError`` when it fits neither."""
    try:
        if message.get("ok") is False:
            return _Reply.model_validate(message)
        return model.model_validate(message)
    except ValidationError as exc:
        raise ValueError(f"{model.__name__}: {exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}") from None
