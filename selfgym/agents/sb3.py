"""selfgym for Stable-Baselines3: text envs as a choice among candidates, and curriculum teaching as an env.

SB3 algorithms take ``Box``/``Discrete`` spaces, not text. Two ways in:

* :class:`CandidateChoiceWrapper` turns a selfgym env into ``Discrete(k)``: each turn, ``k`` candidate actions
  (listed by the task, :class:`TaskCandidates`, or sampled from an LLM, :class:`PolicyCandidates`) are put in
  a ``Box`` observation through a :class:`HashingFeaturizer`, and the agent picks one. ``action_masks()``
  hides empty slots from sb3-contrib's ``MaskablePPO``. What is learnt is a reranker: which candidate to send.
* :class:`CurriculumTeacherEnv` makes curriculum design the task: the action picks a task family and level, a
  student practises on it, and the reward is the student's learning progress (Matiisen et al.'s
  teacher-student curriculum learning). The default student is :class:`~selfgym.curricula.SimulatedLearner`.

>>> from stable_baselines3 import PPO                                                     # doctest: +SKIP
>>> proposer = PolicyCandidates(HFPolicy("smollm2"), k=4)                                # doctest: +SKIP
>>> env = CandidateChoiceWrapper(gym.make("selfgym/Math-v0", max_steps=1), proposer)     # doctest: +SKIP
>>> PPO("MlpPolicy", env).learn(10_000)                                                  # doctest: +SKIP
>>> PPO("MlpPolicy", CurriculumTeacherEnv()).learn(20_000)                               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..curricula.base import Arm, TaskFamily
from ..curricula.simulated import SimulatedFamily, SimulatedLearner
from ..envs.task import Task
from .policy import Policy, Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT

_WORDS = re.compile(r"\w+|[^\w\s]")


class HashingFeaturizer:
    """Text to a fixed-size vector with the hashing trick: word n-grams and character n-grams, each hashed
    (CRC-32, the same in every process, unlike ``hash()``) to a signed slot; the vector is L2-normalised, so
    every entry lies in [-1, 1]. Texts that share words and spellings have a high cosine similarity.
    """

    def __init__(self, dim: int = 256, *, word_ngrams: Sequence[int] = (1, 2), char_ngrams: int = 3,
                 max_chars: int = 4000) -> None:
        if dim < 1:
            raise ValueError(f"dim must be at least 1, got {dim}")
        self.dim, self.word_ngrams = dim, tuple(word_ngrams)
        self.char_ngrams, self.max_chars = char_ngrams, max_chars

    def features(self, text: str) -> list[str]:
        text = text[:self.max_chars].lower()  # long observations: the beginning says what the task is
        words = _WORDS.findall(text)
        grams = [f"w{n}:" + " ".join(words[i:i + n])
                 for n in self.word_ngrams for i in range(len(words) - n + 1)]
        if self.char_ngrams:
            padded = f" {' '.join(words)} "
            n = self.char_ngrams
            grams += [f"c:{padded[i:i + n]}" for i in range(len(padded) - n + 1)]
        return grams

    def __call__(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for gram in self.features(text):
            code = zlib.crc32(gram.encode("utf-8"))
            vector[code % self.dim] += 1.0 if code & 0x80000000 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


# --- candidate actions --------------------------------------------------------------------------------------
CandidateSource = Callable[[list[dict[str, str]], Task], Sequence[str]]
"""Proposes the candidate actions of a turn from the conversation so far (as a policy would see it) and the
task."""


@dataclasses.dataclass
class TaskCandidates:
    """The candidates a task lists in ``task.data[key]`` (e.g. the options of a multiple-choice question)."""

    key: str = "candidates"

    def __call__(self, messages: list[dict[str, str]], task: Task) -> list[str]:
        listed = task.data.get(self.key)
        if not isinstance(listed, (list, tuple)):
            raise ValueError(f"task {task.id!r} lists no candidates under data[{self.key!r}]")
        return [str(candidate) for candidate in listed]


@dataclasses.dataclass
class PolicyCandidates:
    """``k`` replies sampled from ``policy`` (one batched call; duplicates removed, so there may be fewer)."""

    policy: Policy
    k: int = 4
    sampling: Sampling = dataclasses.field(
        default_factory=lambda: Sampling(max_new_tokens=256, temperature=0.8))

    def __call__(self, messages: list[dict[str, str]], task: Task) -> list[str]:
        replies = self.policy.act_batch([messages] * self.k, self.sampling)
        return list(dict.fromkeys(replies))


class CandidateChoiceWrapper(gym.Wrapper):
    """A selfgym text env as a ``Discrete(k)`` choice among candidate actions, with a ``Box`` observation.

    Observation (float32, in [-1, 1]): the featurised text observation, then for each of the ``k`` slots the
    featurised candidate, then per slot the cosine similarity of candidate and observation, then per slot 1 if
    it holds a candidate. Slots are filled in the order the source gives (the first ``k``); empty slots are
    zero and masked in :meth:`action_masks`. Choosing an empty slot sends an empty reply, which the env
    answers like any malformed action (reward 0, a step used). ``info`` carries ``candidates``, the text
    ``observation`` and, after a step, ``chosen``.
    """

    def __init__(self, env: gym.Env, candidates: CandidateSource, *, k: int = 4,
                 featurizer: HashingFeaturizer | None = None,
                 system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> None:
        super().__init__(env)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.candidates_source, self.k = candidates, k
        self.featurizer = featurizer or HashingFeaturizer()
        self.system_prompt = system_prompt
        size = self.featurizer.dim * (k + 1) + 2 * k
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(size,), dtype=np.float32)
        self.action_space = spaces.Discrete(k)
        self.candidates: list[str] = []
        self.messages: list[dict[str, str]] = []

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self.messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        self.messages.append({"role": "user", "content": observation})
        return self._observe(observation, info)

    def step(self, action: Any):
        index = int(action)
        chosen = self.candidates[index] if 0 <= index < len(self.candidates) else ""
        observation, reward, terminated, truncated, info = self.env.step(chosen)
        self.messages += [{"role": "assistant", "content": chosen}, {"role": "user", "content": observation}]
        if terminated or truncated:  # no candidates for an episode that is over
            self.candidates = []
            return self._vector(observation), reward, terminated, truncated, {
                **info, "observation": observation, "candidates": [], "chosen": chosen}
        features, info = self._observe(observation, info)
        return features, reward, terminated, truncated, {**info, "chosen": chosen}

    def action_masks(self) -> np.ndarray:
        """Which slots hold a candidate (for ``MaskablePPO``)."""
        return np.arange(self.k) < len(self.candidates)

    def _observe(self, observation: str, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        self.candidates = list(self.candidates_source(list(self.messages), self.env.unwrapped.task))[:self.k]
        info = {**info, "observation": observation, "candidates": list(self.candidates)}
        return self._vector(observation), info

    def _vector(self, observation: str) -> np.ndarray:
        dim, k = self.featurizer.dim, self.k
        vector = np.zeros(self.observation_space.shape, dtype=np.float32)
        seen = self.featurizer(observation)
        vector[:dim] = seen
        for slot, candidate in enumerate(self.candidates):
            features = self.featurizer(candidate)
            vector[dim * (slot + 1):dim * (slot + 2)] = features
            vector[dim * (k + 1) + slot] = float(np.dot(seen, features))
            vector[dim * (k + 1) + k + slot] = 1.0
        return np.clip(vector, -1.0, 1.0)  # float rounding may put a unit vector's dot product a hair past 1


# --- curriculum teaching as an env --------------------------------------------------------------------------
class CurriculumTeacherEnv(gym.Env):
    """Teach a student: each step the action picks a task family and level (an arm), the student attempts
    ``attempts_per_step`` tasks from it, and the reward is its learning progress. An episode is one student,
    taught for ``steps_per_episode`` steps from scratch.

    Learning progress is the change of ``evaluate(student)`` over the step (by default, for students with a
    ``success_probability``, their mean success over every arm: an episode's return is then the total gain).
    With ``evaluate=None``, it is TSCL's online estimate: the arm's mean success now minus what it was the
    last time the arm was chosen.

    Observation (float32, in [0, 1]): per arm the recent success rate (an exponential average, 0 before its
    first use) and the share of attempts it got so far, then the elapsed share of the episode.

    Args:
        families: the task families (``make(level, rng)``, ``levels``); default two simulated families of 5
            levels.
        student_factory: makes a fresh student; it needs ``attempt(task, rng) -> bool | float`` (success in
            [0, 1]), or is itself such a callable. Default: a :class:`SimulatedLearner` over ``families``.
        evaluate: the student's score in [0, 1], or ``"auto"`` (mean success probability over arms where the
            student has one, else the online estimate), or ``None`` (always the online estimate).
    """

    metadata = {"render_modes": []}

    def __init__(self, families: Sequence[TaskFamily] | None = None,
                 student_factory: Callable[[], Any] | None = None, *, attempts_per_step: int = 10,
                 steps_per_episode: int = 50, evaluate: Callable[[Any], float] | str | None = "auto",
                 smoothing: float = 0.3) -> None:
        self.families = list(families) if families is not None else [SimulatedFamily("arithmetic", levels=5),
                                                                      SimulatedFamily("algebra", levels=5)]
        if student_factory is None:
            families_copy = [dataclasses.replace(f) for f in self.families if isinstance(f, SimulatedFamily)]
            if len(families_copy) != len(self.families):
                raise ValueError("the default student (SimulatedLearner) needs SimulatedFamily families; "
                                 "pass student_factory for others")
            student_factory = lambda: SimulatedLearner(families_copy)  # noqa: E731 - a fresh one per episode
        self.student_factory = student_factory
        if attempts_per_step < 1 or steps_per_episode < 1:
            raise ValueError("attempts_per_step and steps_per_episode must be at least 1")
        self.attempts_per_step, self.steps_per_episode = attempts_per_step, steps_per_episode
        self.evaluate_option, self.smoothing = evaluate, smoothing
        self.arms = [Arm(f.name, level) for f in self.families for level in range(f.levels)]
        self._family = {f.name: f for f in self.families}
        self.action_space = spaces.Discrete(len(self.arms))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * len(self.arms) + 1,), dtype=np.float32)
        self.student: Any = None

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
        super().reset(seed=seed)
        self.student = self.student_factory()
        self.t = 0
        self.success = np.zeros(len(self.arms))
        self.attempts = np.zeros(len(self.arms))
        self.last_score = np.full(len(self.arms), np.nan)
        self.evaluate = self._evaluator()
        self.score = self.evaluate(self.student) if self.evaluate is not None else float("nan")
        return self._observation(), {"score": self.score}

    def step(self, action: Any):
        arm_index = int(action)
        arm = self.arms[arm_index]
        outcomes = [self._attempt(self._family[arm.family].make(arm.level, self.np_random))
                    for _ in range(self.attempts_per_step)]
        mean = float(np.mean(outcomes))
        if self.attempts[arm_index] == 0:
            self.success[arm_index] = mean
        else:
            self.success[arm_index] += self.smoothing * (mean - self.success[arm_index])
        self.attempts[arm_index] += self.attempts_per_step
        self.t += 1
        if self.evaluate is not None:
            score = self.evaluate(self.student)
            reward = score - self.score
            self.score = score
        else:  # TSCL online: progress on this arm since it was last chosen (none the first time)
            previous = self.last_score[arm_index]
            reward = 0.0 if np.isnan(previous) else mean - previous
            self.last_score[arm_index] = mean
        truncated = self.t >= self.steps_per_episode
        info = {"arm": arm.key, "success": mean, "score": self.score}
        return self._observation(), float(reward), False, truncated, info

    def _attempt(self, task: Task) -> float:
        attempt = getattr(self.student, "attempt", self.student)
        return float(attempt(task, self.np_random))

    def _evaluator(self) -> Callable[[Any], float] | None:
        if self.evaluate_option != "auto":
            return self.evaluate_option  # a callable, or None
        if not hasattr(self.student, "success_probability"):
            return None
        probes = [Task(f"probe/{arm.key}", arm.family, "", difficulty=float(arm.level)) for arm in self.arms]
        return lambda student: float(np.mean([student.success_probability(task) for task in probes]))

    def _observation(self) -> np.ndarray:
        share = self.attempts / max(1.0, self.attempts.sum())
        elapsed = [self.t / self.steps_per_episode]
        return np.concatenate([self.success, share, elapsed]).astype(np.float32).clip(0.0, 1.0)
