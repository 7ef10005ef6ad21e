"""Two attempts at one task, the second after feedback on the first (SCoRe's self-correction episodes).

:class:`SelfCorrection` wraps any selfgym text env whose episode is one attempt (Math-v0 with ``max_steps=1``:
an answer ends it; Code-v0 with ``max_steps=1``: one submission). Its episode is:

1. the task, and the agent's first attempt, played in the wrapped env (tool turns included, until that episode
   ends); the attempt's reward is the wrapped env's;
2. a feedback turn: ``feedback="instruction"`` (SCoRe's setting, no oracle) sends a fixed instruction to look for
   an error; ``feedback="env"`` sends the wrapped env's own last observation (Math-v0: ``Incorrect.``; Code-v0:
   the failed tests) followed by a request to answer again;
3. the second attempt, judged by a fresh episode of the same task in the wrapped env (reset with
   ``options={"task": task}``): the reply is played there as that episode's first action, so the env's verifier
   judges the second attempt exactly as it judges a first one.

Both rewards come from the wrapped env's verifier only; the wrapper adds none and never reads the agent's text.
Every step's ``info`` carries ``attempt`` (1 or 2). The episode always has two attempts (a right first answer is
asked about again: SCoRe measures right-to-wrong changes too). The episode's return is ``r1 + r2``; trainers that
need them apart read ``info["attempt"]`` (:func:`attempt_rewards`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym

# SCoRe's (Kumar et al., 2024) self-correction instruction for MATH, with no feedback from an oracle.
CORRECTION_INSTRUCTION = ("There might be an error in the solution above because of lack of understanding of the "
                          "question. Please correct the error, if any, and rewrite the solution.")
# After the env's own feedback (which may say the answer was right).
ANSWER_AGAIN = "Give your final answer again, corrected if it was wrong."

Feedback = Literal["instruction", "env"]


class SelfCorrection(gym.Wrapper):
    """A one-attempt text env made into a two-attempt episode with feedback in between (see the module).

    Args:
        env: a selfgym text env (its ``unwrapped`` is a :class:`~selfgym.envs.TextEnv`) whose episode is one
            attempt: Math-v0 or Code-v0 with ``max_steps=1`` (or more, for tool turns inside an attempt).
        feedback: ``"instruction"`` (default): ``instruction`` alone; ``"env"``: the env's last observation of
            the first attempt, then :data:`ANSWER_AGAIN`.
        instruction: the feedback turn's text with ``feedback="instruction"``.
    """

    def __init__(self, env: gym.Env, feedback: Feedback = "instruction",
                 instruction: str = CORRECTION_INSTRUCTION) -> None:
        if feedback not in ("instruction", "env"):
            raise ValueError(f"feedback must be 'instruction' or 'env', got {feedback!r}")
        if not instruction.strip():
            raise ValueError("instruction must not be empty: it is the whole feedback turn")
        super().__init__(env)
        self.feedback, self.instruction = feedback, instruction
        self.attempt = 0
        self._seed: int | None = None

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
        observation, info = self.env.reset(seed=seed, options=options)
        self.attempt, self._seed = 1, seed
        return observation, {**info, "attempt": 1}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self.attempt == 0:
            raise gym.error.ResetNeeded("call reset() before step()")
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "attempt": self.attempt}
        if not (terminated or truncated) or self.attempt == 2:
            if terminated or truncated:
                self.attempt = 0
            return observation, reward, terminated, truncated, info
        # The first attempt is over: the second is a fresh episode of the same task, judged by the same verifier.
        task = self.env.unwrapped.task
        self.env.reset(seed=self._seed, options={"task": task})
        self.attempt = 2
        feedback = self.instruction if self.feedback == "instruction" else f"{observation}\n\n{ANSWER_AGAIN}"
        return feedback, reward, False, False, info


def attempt_rewards(steps: Sequence[Any]) -> tuple[float, float, bool, bool]:
    """``(r1, r2, correct1, correct2)`` of a two-attempt episode's steps (objects with ``reward`` and ``info``,
    e.g. a :class:`~selfgym.agents.Trajectory`'s): each attempt's summed reward, and whether its last step earned
    full reward. A second attempt never played (the episode was cut short) is ``0.0`` and not correct."""
    rewards, correct = [0.0, 0.0], [False, False]
    for step in steps:
        attempt = int(step.info.get("attempt", 1)) - 1
        if attempt not in (0, 1):
            raise ValueError(f"step info attempt={step.info.get('attempt')!r}: not an episode of SelfCorrection")
        rewards[attempt] += float(step.reward)
        correct[attempt] = float(step.reward) >= 1.0
    return rewards[0], rewards[1], correct[0], correct[1]


__all__ = ["ANSWER_AGAIN", "CORRECTION_INSTRUCTION", "SelfCorrection", "attempt_rewards"]
