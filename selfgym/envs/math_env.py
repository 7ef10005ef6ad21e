"""``selfgym/Math-v0``: answer a math problem; the answer is judged by mathematical equivalence."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..params import AtLeastOne, Positive
from ..sandbox import Limits, SandboxSpec, SandboxError, SandboxLostError
from .base import TextEnv, Turn, renamed
from .math.answers import DEFAULT_TIMEOUT_S, extract_answer, judge, last_number, prepare_task
from .math.python_tool import format_output, python_blocks, run_python
from .math.sources import default_source, load_math_jsonl
from .task import Task, TaskSource
from .tools import Tool, ToolCall, string, tool

if TYPE_CHECKING:  # Docker's SDK loads when a sandbox is first needed, not with the env
    from ..sandbox import SandboxPool

ANSWER_FORMAT = ("Give your final answer as \\boxed{...}, or inside <answer>...</answer> when it is not a single "
                 "expression (several lines, a list, words).")
TOOL_HELP = ("You may run Python (numpy and sympy are installed) by writing <python>...</python>; its output comes "
             "back to you. Files you write stay until the episode ends.")


class MathEnv(TextEnv):
    """A problem, then the agent's replies, until a final answer or the step budget.

    Each action is one model reply. A reply with a final answer (``\\boxed{}``, ``<answer>`` tags, an
    ``Answer:`` line) ends the episode: reward 1 if it is right, else 0. Right means mathematically equivalent
    to the gold answer (math-verify: ``1/2`` = ``0.5`` = ``\\frac{1}{2}``), or, for reasoning-gym tasks, what the
    generator's own scorer accepts. With ``tools=True`` a reply whose last part is a ``<python>`` block (no
    answer after it) runs that code in the sandbox and the output is the next observation; the episode goes on.
    A reply with neither is answered with what was expected (reward 0) and uses a step. With ``attempts`` above 1
    a wrong answer is answered "Incorrect." and the episode goes on, until a right answer, ``attempts`` answers or
    ``max_steps`` replies (the agent sees each answer's verdict: a search may act on it).

    The sandbox is taken only when a reply runs Python, so envs whose agents never do start no container. Answers
    that need math-verify are judged by the process-wide verifier pool (one worker process per CPU at most, started
    as concurrent judgements need them; :func:`~selfgym.envs.math.set_verifier_processes` or
    ``$SELFGYM_VERIFIER_PROCESSES`` caps it), so envs stepped in threads are judged in parallel.

    Args:
        tasks: where tasks come from (default: easy arithmetic and algebra from reasoning-gym generators; see
            :func:`~selfgym.envs.math.sources.default_source`). Any :class:`~selfgym.envs.TaskSource` whose
            tasks carry ``data={"answer": gold}`` or a reasoning-gym spec.
        max_steps: replies per episode (tool turns included).
        tools: allow ``<python>`` blocks.
        python_timeout_s: wall-clock limit of one Python run.
        verify_timeout_s: limit of one judgement; past it the answer is judged wrong (``info["error"]`` says so).
        extraction: ``"strict"`` judges only marked answers; ``"flexible"`` falls back to the last number of a
            reply without a marker (lm-evaluation-harness's flexible-extract), for small models that state the
            result without the asked-for format (``info["extraction"]`` says which was used).
        attempts: final answers judged per episode; a wrong one before the last is answered "Incorrect." with
            the number left, and the episode goes on (reward 0 for it, 1 for the right answer that ends it).

    Tools: ``python(code)`` (with ``tools=True``), the same as a ``<python>`` block, and ``answer(answer)``, the
    same as ``<answer>...</answer>``.

    ``info`` on a judged answer: ``expected`` (gold, ``None`` when the generator has no single one),
    ``extracted``, ``correct``, ``score`` (the scorer's partial credit), ``method``, and ``error`` when it
    could not be judged. On a malformed reply: ``malformed=True`` and ``error``.
    """

    fork_fields = ("answers_judged",)
    uses_sandbox = False  # taken lazily in _act when a reply runs Python
    # Solutions, tests and tool programs never need a network, not even loopback: no socket but a Unix one, so no
    # episode needs a network namespace of its own (see Limits.episode_network)
    sandbox_spec = SandboxSpec("python", Limits(episode_network="none"))
    TOOLS = (tool("python", "Run a Python program (numpy and sympy are installed); its output comes back. Files it "
                  "writes stay until the episode ends.", {"code": string("The Python program to run.")}),
             tool("answer", "Give the final answer (ends the episode): an expression, a number, or text.",
                  {"answer": string("The final answer.")}))

    def __init__(self, tasks: TaskSource | None = None, *, max_steps: AtLeastOne = 4, tools: bool = True,
                 python_timeout_s: Positive = 10.0, verify_timeout_s: Positive = DEFAULT_TIMEOUT_S,
                 pool: SandboxPool | None = None, image: str | None = None, limits: Limits | None = None,
                 render_mode: str | None = None, max_action_chars: AtLeastOne = 64_000,
                 extraction: Literal["strict", "flexible"] = "strict", attempts: AtLeastOne = 1,
                 source: TaskSource | None = None) -> None:
        tasks = renamed("source", "tasks", source, tasks)
        if extraction not in ("strict", "flexible"):
            raise ValueError(f"extraction must be 'strict' or 'flexible', got {extraction!r}")
        self.extraction = extraction
        self.attempts = attempts
        self.answers_judged = 0
        super().__init__(tasks if tasks is not None else default_source(), max_steps=max_steps, pool=pool,
                         image=image, limits=limits, render_mode=render_mode, max_action_chars=max_action_chars)
        self.tools = tools
        self.python_timeout_s = python_timeout_s
        self.verify_timeout_s = verify_timeout_s

    @classmethod
    def read_task_file(cls, path: str | Path) -> TaskSource:
        """A JSONL file of GSM8K- or MATH-format records (detected per record)."""
        return load_math_jsonl(path)

    @classmethod
    def reference_actions(cls, task: Task) -> list[str]:
        """The gold answer, boxed (or in ``<answer>`` tags when it is not one expression)."""
        if task.data.get("answer") is None:
            return super().reference_actions(task)
        answer = str(task.data["answer"])
        if "\n" in answer or answer.count("{") != answer.count("}"):
            return [f"<answer>{answer}</answer>"]
        return [f"The answer is \\boxed{{{answer}}}."]

    @classmethod
    def canonical_reply(cls, task: Task, info: Mapping[str, Any]) -> str | None:
        """A right answer as the env asks for it: ``\\boxed{answer}`` (the answer as the verifier read it)."""
        answer = info.get("extracted")
        if not info.get("correct") or answer is None or "\n" in str(answer):
            return None
        return f"\\boxed{{{answer}}}"

    @property
    def may_use_sandbox(self) -> bool:
        return self.tools  # only the python tool runs in a sandbox

    def available_tools(self) -> tuple[Tool, ...]:
        return self.TOOLS if self.tools else tuple(t for t in self.TOOLS if t.name != "python")

    def tool_action(self, call: ToolCall) -> str:
        if call.name == "python":
            return f"<python>\n{call.arguments['code']}\n</python>"
        return f"<answer>{call.arguments['answer']}</answer>"

    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        self.release_sandbox()  # the last episode's sandbox goes back clean; this one takes one only if it runs code
        prepare_task(task.data)
        self.answers_judged = 0
        instructions = f"{ANSWER_FORMAT} {TOOL_HELP if self.tools else ''}".strip()
        return f"{task.prompt}\n\n{instructions} You have {self.max_steps} replies.", {"difficulty": task.difficulty}

    def _act(self, action: str) -> Turn:
        blocks = python_blocks(action) if self.tools else None
        answer = extract_answer(action if blocks is None else action[blocks[1]:])
        if blocks is not None and answer is None:
            return self._run_python(blocks[0])
        flexible = answer is None and self.extraction == "flexible"
        if flexible:  # small models often state the result without the asked-for marker
            answer = last_number(action)
        if answer is None:
            return self._malformed(action)
        verdict = judge(self.task, answer, timeout_s=self.verify_timeout_s)
        info = {"expected": self.task.data.get("answer"), "extracted": answer, "correct": verdict.correct,
                "score": verdict.score, "method": verdict.method, "extraction": "last-number" if flexible else "marker"}
        if verdict.error:
            info["error"] = verdict.error
        observation = "Correct." if verdict.correct else "Incorrect."
        if verdict.error:
            observation += f" ({verdict.error})"
        self.answers_judged += 1
        left = min(self.attempts - self.answers_judged, self.max_steps - self.steps)
        if not verdict.correct and left > 0:
            observation += f" {left} more attempt{'s' if left > 1 else ''}. {ANSWER_FORMAT}"
        return Turn(observation, float(verdict.correct), verdict.correct or left <= 0, info)

    def _run_python(self, code: str) -> Turn:
        try:
            result = run_python(self.sandbox, code, step=self.steps, timeout_s=self.python_timeout_s)
        except SandboxLostError:
            raise  # not the agent's doing: the base class replays the episode on a fresh sandbox
        except SandboxError as exc:  # e.g. the program filled /work, so the next script cannot be written
            return Turn(f"Python could not run: {exc}", 0.0, False, {"tool": "python", "error": str(exc)})
        observation = format_output(result, self.python_timeout_s)
        remaining = self.max_steps - self.steps
        if remaining > 0:
            observation += f"\n\n{remaining} repl{'y' if remaining == 1 else 'ies'} left. {ANSWER_FORMAT}"
        return Turn(observation, 0.0, False, {"tool": "python", "exit_code": result.exit_code,
                                               "timed_out": result.timed_out})

    def _malformed(self, action: str) -> Turn:
        if not action.strip():
            problem = "Your reply was empty."
        else:
            problem = "Your reply has no final answer."
        tools = " or run Python with <python>...</python>" if self.tools else ""
        message = f"{problem} {ANSWER_FORMAT} You can also keep working{tools}."
        return Turn(message, 0.0, False, {"malformed": True, "error": problem})
