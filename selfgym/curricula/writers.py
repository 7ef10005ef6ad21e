"""Writing new tasks with an LLM (WebRL's task writer), and checking that a written task is valid.

``LLMTaskWriter`` asks any :class:`~selfgym.agents.Policy` for new tasks "in the same domain, more diverse, of
similar difficulty" than a failed one, as JSON. What comes back is never trusted: ``math_task_validator`` keeps a
math task only if its answer is one math-verify can judge, ``CodeTaskValidator`` keeps a code task only if
its own reference solution passes its own tests in the real Code-v0 sandbox, and a shell task must pass the shell
task format's own checks (its check runs no agent code as the verifier, compares with nothing the agent can
write). A written shell task's check can still be fooled in ways no lint sees: give the curriculum an ``audit``
(``SelfEvolvingCurriculum(..., audit="selfgym/Shell-v0")``) so that ``selfgym audit``'s battery is played
against every written task before it can be drawn.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import gymnasium as gym
import numpy as np

from ..envs.task import Task

WRITER_PROMPT = """An agent failed this task:

{prompt}

Write {n} new tasks in the same domain, more diverse, of similar difficulty. Reply with only a JSON list of
objects, each with the fields {fields}."""

FIELDS = {
    "math": '"prompt" (the problem) and "answer" (its final answer: a number or a LaTeX expression)',
    "code": '"prompt" (what the function must do), "solution" (a Python reference solution defining the '
            'function) and "tests" (a list of assert statements calling the function)',
    "shell": '"prompt" (what to do in a Linux shell, in /work), "setup" (bash run in /work before the task: '
             'the files it needs), "check" (bash run in /work after the agent submits: exit 0 means solved) and '
             '"solution" (a list of shell commands that solve it, the last one "submit")',
}


def _json_list(text: str) -> list[Any]:
    """The first JSON list in ``text`` (inside a fenced block or bare); ``[]`` when there is none."""
    fenced = re.search(r"```(?:json)?\s*\n(.*?)```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    start = text.find("[")
    if start >= 0:
        candidates.append(text[start: text.rfind("]") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, list):
            return value
    return []


class LLMTaskWriter:
    """A :class:`~selfgym.curricula.TaskWriter` that asks ``policy`` for new tasks of ``kind`` ("math" or
    "code") from a failed one. Malformed replies and items yield no task (they are counted in ``malformed``)."""

    def __init__(self, policy: Any, kind: str = "math", *, max_new_tokens: int = 1024) -> None:
        if kind not in FIELDS:
            raise ValueError(f"kind must be one of {sorted(FIELDS)}, got {kind!r}")
        self.policy, self.kind, self.max_new_tokens = policy, kind, max_new_tokens
        self.malformed = 0

    def propose(self, failed: Task, rng: np.random.Generator, n: int) -> list[Task]:
        prompt = WRITER_PROMPT.format(prompt=failed.prompt, n=n, fields=FIELDS[self.kind])
        reply = self.policy.act([{"role": "user", "content": prompt}], max_new_tokens=self.max_new_tokens,
                                seed=int(rng.integers(1 << 31)))
        tasks = []
        for item in _json_list(reply)[:n]:
            task = self._task(item, failed)
            if task is None:
                self.malformed += 1
            else:
                tasks.append(task)
        return tasks

    def _task(self, item: Any, failed: Task) -> Task | None:
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"].strip():
            return None
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:12]
        task_id = f"written/{failed.family}/{digest}"
        if self.kind == "math":
            answer = item.get("answer")
            if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
                return None
            return Task(task_id, failed.family, item["prompt"].strip(), failed.difficulty,
                        {"answer": str(answer), "written_from": failed.id})
        if self.kind == "shell":
            return _shell_task(item, task_id, failed)
        from ..envs.code.sources import mbpp_task

        tests, solution = item.get("tests"), item.get("solution")
        if not isinstance(solution, str) or not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            return None
        try:
            task = mbpp_task({"task_id": digest, "text": item["prompt"], "code": solution, "test_list": tests},
                             failed.family)
        except (ValueError, SyntaxError):
            return None
        return Task(task_id, failed.family, task.prompt, failed.difficulty, {**task.data, "written_from": failed.id})


def _shell_task(item: dict[str, Any], task_id: str, failed: Task) -> Task | None:
    """A shell task (the YAML task format's entry, validated with its lints), or None when it is not one."""
    from pydantic import ValidationError

    from ..envs.shell.spec import ShellTaskEntry

    category = failed.data.get("category") or "written"
    try:
        entry = ShellTaskEntry.model_validate({
            "id": task_id, "prompt": item["prompt"], "difficulty": min(3, max(0, int(failed.difficulty))),
            "category": str(category), "setup": item.get("setup", ""), "check": item.get("check"),
            "solution": item.get("solution")})
    except (ValidationError, ValueError, TypeError):
        return None
    return entry.to_task()  # data holds the spec only (it is validated as such when played)


def math_task_validator(task: Task) -> str | None:
    """``None`` when math-verify can parse the task's answer into a mathematical object, else why not. Answers
    are short by construction (at most 200 characters), which bounds math-verify's parsing time in-process."""
    from math_verify import parse

    answer = task.data.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return "no answer"
    if len(answer) > 200:
        return "the answer is longer than 200 characters"
    # parse() returns [object, text] when it understood the answer, [text] or [] when it did not
    if len(parse(f"${answer}$", parsing_timeout=None)) < 2 and len(parse(answer, parsing_timeout=None)) < 2:
        return "the answer cannot be parsed by math-verify"
    return None


class CodeTaskValidator:
    """Keeps a code task only if its reference solution passes its own tests in Code-v0 (a real sandbox).

    Pass ``pool=`` to share a :class:`~selfgym.sandbox.SandboxPool`; call ``close()`` when done.
    """

    def __init__(self, **env_kwargs: Any) -> None:
        self.env = gym.make("selfgym/Code-v0", max_steps=1, **env_kwargs).unwrapped

    def __call__(self, task: Task) -> str | None:
        solution = task.data.get("canonical_solution")
        if not solution:
            return "no reference solution"
        self.env.reset(options={"task": task})
        _, reward, _, _, info = self.env.step(f"```python\n{solution}\n```")
        if reward < 1.0:
            return f"its reference solution fails its own tests ({info.get('error', 'tests failed')})"
        return None

    def close(self) -> None:
        self.env.close()
