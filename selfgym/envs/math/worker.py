"""The verifier worker process (``python -m selfgym.envs.math.worker``); see :mod:`.verifier`.

Reads one JSON request per line on stdin and answers on the original stdout (anything the judged code prints
goes to stderr instead). Each request is served in two stages: trusted preparation without a deadline (parsing
the gold answer, building a reasoning-gym dataset and entry: cached), then ``{"started": true}``, then the
judgement of the answer under ``timeout_s`` and its reply. Requests and replies:

* ``{"op": "math", "gold": g, "answer": a, "timeout_s": t}`` → ``{"correct": bool, "read": bool}`` (math-verify;
  ``read``: it found a mathematical value in the answer, not only text)
* ``{"op": "score", "spec": s, "entry": e, "answer": a, "timeout_s": t}`` → ``{"score": float, "rejected": ...}``
* ``{"op": "prepare", "spec": s}`` → ``{"ok": true}`` (only the preparation: warms the caches)

A judgement past its ``timeout_s`` is answered ``{"timeout": true}``; a failure ``{"error": "..."}``.

LaTeX is parsed with ANTLR's two-stage strategy (:func:`two_stage_parsing`): about five times faster than
latex2sympy's own full-context parsing, with the same parse trees.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

MEMORY_LIMIT_BYTES = 6 << 30  # address space: a runaway big-integer power fails with MemoryError, not the OOM killer


class Deadline(BaseException):
    """Raised by the interval timer. A BaseException, so that math-verify's ``except Exception`` cannot eat it."""


def _on_alarm(signum, frame):
    raise Deadline()


_MATH_DELIMITER = re.compile(r"(?<!\\)\$")  # a "$" that is not "\\$" (a dollar sign)


@lru_cache(maxsize=8192)
def _parsed_gold(gold: str) -> list:
    from math_verify import parse
    return parse(as_latex(gold), parsing_timeout=None)


def as_latex(text: str) -> str:
    """``text`` as math-verify reads an answer: in math mode, unless it already has math delimiters or a box."""
    return text if _MATH_DELIMITER.search(text) or "\\boxed" in text else f"${text}$"


def math_judgement(gold: str, answer: str) -> dict[str, bool]:
    """math-verify's judgement (``correct``) and whether it read a mathematical value in the answer (``read``),
    with no timeout of its own (the caller's interval timer bounds it)."""
    from math_verify import parse, verify
    parsed = parse(as_latex(answer), parsing_timeout=None)
    return {"correct": bool(verify(_parsed_gold(gold), parsed, timeout_seconds=None)),
            "read": any(not isinstance(value, str) for value in parsed)}


@contextmanager
def two_stage_parsing():
    """While open, latex2sympy parses with ANTLR's SLL prediction first and falls back to full LL only when that
    fails (the verifier worker keeps it open for its whole life).

    ANTLR guarantees that an SLL parse without a syntax error is the parse LL gives; latex2sympy's error listener
    raises on any syntax error, so a failed SLL attempt is simply parsed again as before.
    """
    from antlr4.atn.PredictionMode import PredictionMode
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    create_parser, parse = _Latex2Sympy.create_parser, _Latex2Sympy.parse

    def create_sll_parser(self, latex_str):
        parser = create_parser(self, latex_str)
        if not getattr(self, "full_context", False):
            parser._interp.predictionMode = PredictionMode.SLL
        return parser

    def parse_two_stage(self, latex_str):
        try:
            return parse(self, latex_str)
        except Exception:  # noqa: BLE001 - an error under SLL may be SLL's own; LL decides (a Deadline passes)
            self.full_context = True
            try:
                return parse(self, latex_str)
            finally:
                self.full_context = False

    _Latex2Sympy.create_parser, _Latex2Sympy.parse = create_sll_parser, parse_two_stage
    try:
        yield
    finally:
        _Latex2Sympy.create_parser, _Latex2Sympy.parse = create_parser, parse


def _stages(request: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], dict[str, Any]]]:
    """A request's trusted preparation (no deadline) and its judgement of the answer (under the deadline)."""
    from . import generators
    op = request.get("op")
    if op == "math":
        return lambda: _parsed_gold(request["gold"]), lambda: math_judgement(request["gold"], request["answer"])
    if op == "score":
        def judge() -> dict[str, Any]:
            score, rejected = generators.score_answer(request["spec"], request["entry"], request["answer"])
            return {"score": score, "rejected": rejected}
        return lambda: generators.prepare(request["spec"]), judge
    if op == "prepare":
        return lambda: generators.prepare(request["spec"]), lambda: {"ok": True}
    if op == "ping":
        return lambda: None, lambda: {"ok": True}
    raise ValueError(f"unknown op {op!r}")


def _serve(request: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
    prepare, judge = _stages(request)
    prepare()
    send({"started": True})  # the caller's deadline starts now
    signal.setitimer(signal.ITIMER_REAL, max(float(request.get("timeout_s", 5.0)), 0.001))
    try:
        reply = judge()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    send(reply)


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever generators or scorers print must not corrupt the protocol
    sys.stdout = sys.stderr
    logging.disable(logging.WARNING)  # math-verify warns that its own timeouts are off: they are, on purpose
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY
                                            else min(MEMORY_LIMIT_BYTES, hard), hard))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    import math_verify  # noqa: F401  (warm up before saying ready)
    from . import generators
    generators.harden_scorers()

    def send(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    with two_stage_parsing():
        send({"ready": True})
        for line in sys.stdin:
            try:
                _serve(json.loads(line), send)
            except Deadline:
                send({"timeout": True})
            except MemoryError:
                send({"error": "the judgement ran out of memory"})
            except Exception as exc:  # noqa: BLE001 - report any failure to the caller, keep serving
                send({"error": f"{type(exc).__name__}: {str(exc)[:500]}"})


if __name__ == "__main__":
    main()
