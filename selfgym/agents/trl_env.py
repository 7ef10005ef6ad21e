"""selfgym envs inside TRL's ``GRPOTrainer``: tool environments for ``environment_factory``, and a rollout function
that plays whole multi-turn episodes.

``GRPOTrainer(environment_factory=tool_environment("selfgym/Math-v0"))`` (or ``tool_environment(url=...)`` for an
env server) gives TRL a class with ``reset(**row)``, one public method per tool of the env and ``get_reward()``: the
model calls the env's tools, each call is one env step, and the episode's reward is the env's (see
:func:`tool_environment`; :func:`tool_dataset` makes the dataset of tasks to train on). The rest of this module is
the older ``rollout_func`` route, for models whose chat template cannot call tools:

TRL's ``GRPOTrainer(rollout_func=...)`` hands the function the prompts of a batch and expects token ids back:
``prompt_ids``, ``completion_ids``, ``logprobs``, and optionally an ``env_mask`` that keeps tokens out of the
loss. :class:`SelfgymRollout` plays each prompt's task in a selfgym env with the model being trained (the same
token-level rollout as :mod:`selfgym.agents.grpo`): the completion is everything after the first prompt — the
model's replies (mask 1) and the env's observations between them, in the chat template's markup (mask 0). The
episode's return travels as the extra field ``env_reward``, which :func:`env_reward` gives TRL as the reward.

>>> import gymnasium as gym, selfgym                                                        # doctest: +SKIP
>>> from trl import GRPOConfig, GRPOTrainer                                                 # doctest: +SKIP
>>> from selfgym.envs.math.generators import ReasoningGymSource                             # doctest: +SKIP
>>> rollout = SelfgymRollout(lambda: gym.make("selfgym/Math-v0", max_steps=2),
...                          ReasoningGymSource("basic_arithmetic", 0, size=500))          # doctest: +SKIP
>>> trainer = GRPOTrainer(model="HuggingFaceTB/SmolLM2-135M-Instruct", reward_funcs=env_reward,
...                       train_dataset=rollout.dataset(), rollout_func=rollout,
...                       args=GRPOConfig(num_generations=8, max_completion_length=512))  # doctest: +SKIP
>>> trainer.train()                                                                         # doctest: +SKIP

Notes: TRL marks ``rollout_func`` experimental (set ``TRL_EXPERIMENTAL_SILENCE=1`` to silence its warning).
Replies are sampled with the trainer's ``temperature`` and ``top_p``; TRL's ``max_completion_length`` is not
applied to the completion (it spans several turns): ``max_new_tokens`` bounds each reply and
``max_episode_tokens`` the whole episode. Generation uses the trainer's model through transformers, not vLLM.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch

from ..envs.task import Task
from ..sandbox.errors import InfrastructureError
from .grpo import MicroBatch, TokenEpisode, play_episodes, token_logprobs
from .hf import HFPolicy
from .policy import Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT

log = logging.getLogger(__name__)


class SelfgymRollout:
    """A TRL ``rollout_func`` over selfgym envs (see the module docstring for how to use it).

    Args:
        env_factory: makes one env (``lambda: gym.make("selfgym/Math-v0")``); the rollout keeps as many as a
            batch needs and reuses them.
        tasks: the training tasks (a list or any iterable :class:`~selfgym.envs.TaskSource`); :meth:`dataset`
            turns them into TRL's training dataset, one row per task.
        max_new_tokens: per reply. ``max_episode_tokens``: the whole episode (prompt included); an episode
            that would need more ends there. A prompt that leaves no room for one reply makes an unplayed
            episode: reward 0, and for TRL one end-of-turn token masked out of the loss, after the prompt's
            last ``max_episode_tokens - 1`` tokens (TRL needs a completion to read).
        system_prompt: the first message of every episode (``None`` for none).
    """

    def __init__(self, env_factory: Callable[[], gym.Env], tasks: Iterable[Task], *,
                 max_new_tokens: int = 256, max_episode_tokens: int = 2048,
                 system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> None:
        self.env_factory = env_factory
        self.tasks = {task.id: task for task in tasks}
        if not self.tasks:
            raise ValueError("SelfgymRollout needs at least one task")
        self.max_new_tokens, self.max_episode_tokens = max_new_tokens, max_episode_tokens
        self.system_prompt = system_prompt
        self.envs: list[gym.Env] = []
        self._policy: HFPolicy | None = None

    def dataset(self):
        """TRL's ``train_dataset``: one row per task, a conversational ``prompt`` whose message carries the
        task's id (``rollout_func`` receives only the prompts, so this is how a row finds its task again)."""
        from datasets import Dataset

        return Dataset.from_list([{"prompt": [{"role": "user", "content": task.prompt, "task_id": task.id}]}
                                  for task in self.tasks.values()])

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, list]:
        tasks = [self._task(prompt) for prompt in prompts]
        while len(self.envs) < len(tasks):
            self.envs.append(self.env_factory())
        policy = self._policy_for(trainer)
        sampling = Sampling(max_new_tokens=self.max_new_tokens, temperature=trainer.temperature,
                            top_p=trainer.top_p if trainer.top_p is not None else 1.0)
        episodes, _ = play_episodes(policy, self.envs[:len(tasks)], tasks, sampling=sampling,
                                    max_episode_tokens=self.max_episode_tokens,
                                    system_prompt=self.system_prompt, meta={"source": "trl"})
        unplayed = [len(e.ids) == e.prompt_length for e in episodes]
        if any(unplayed):
            log.warning("%d of %d prompts left no room for a reply in max_episode_tokens=%d; their episodes end "
                        "unplayed, with reward 0 and nothing to learn from", sum(unplayed), len(episodes),
                        self.max_episode_tokens)
        # TRL needs at least one completion token per episode (it reads the last): an unplayed episode gets the
        # end-of-turn token, masked out of the loss, after as much of its prompt as fits the episode budget.
        budget = min(self.max_episode_tokens, policy.context_length or self.max_episode_tokens) - 1
        played = [e for e, skip in zip(episodes, unplayed, strict=True) if not skip]
        logprobs = iter(self._logprobs(policy, played, sampling.temperature))
        output: dict[str, list] = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": []}
        for episode, skip in zip(episodes, unplayed, strict=True):
            if skip:  # an episode lost to the infrastructure at reset has no ids: its task's prompt stands in
                task_prompt = [{"role": "user", "content": episode.trajectory.task.prompt}]
                prompt = episode.ids or policy.prompt_ids(task_prompt)
                row = (prompt[-budget:], [policy.tokenizer.eos_token_id], [0.0], [0])
            else:
                row = (episode.ids[:episode.prompt_length], episode.ids[episode.prompt_length:], next(logprobs),
                       episode.mask[episode.prompt_length:])
            for key, value in zip(output, row, strict=True):
                output[key].append(value)
        return {**output, "env_reward": [e.reward for e in episodes],
                "success": [float(e.trajectory.success) for e in episodes]}

    def _task(self, prompt: Any) -> Task:
        task_id = None
        if isinstance(prompt, Sequence) and prompt and isinstance(prompt[0], dict):
            task_id = prompt[0].get("task_id")
        if task_id not in self.tasks:
            raise KeyError(f"a prompt without a known task_id reached SelfgymRollout: {str(prompt)[:200]}; "
                           "build the train_dataset with rollout.dataset()")
        return self.tasks[task_id]

    def _policy_for(self, trainer: Any) -> HFPolicy:
        model = trainer.accelerator.unwrap_model(trainer.model)
        if self._policy is None or self._policy.model is not model:
            self._policy = HFPolicy(model, tokenizer=trainer.processing_class, name="trl-policy")
        return self._policy

    @staticmethod
    def _logprobs(policy: HFPolicy, episodes: Sequence[TokenEpisode],
                  temperature: float) -> list[list[float]]:
        """Each completion token's log-probability under the model that sampled it (TRL's ``logprobs``)."""
        logprobs = []
        with torch.no_grad():
            for episode in episodes:
                batch = MicroBatch.of([episode], [0.0], policy.tokenizer.pad_token_id, policy.device)
                values, _ = token_logprobs(policy.model, batch, temperature)
                logprobs.append(values[0].float().tolist())  # starts at the first completion token
        return logprobs


def env_reward(prompts: Sequence[Any], completions: Sequence[Any], env_reward: Sequence[float],
               **kwargs: Any) -> list[float]:
    """TRL reward function: the episode return :class:`SelfgymRollout` measured in the env."""
    return [float(r) for r in env_reward]


# --- environment_factory ------------------------------------------------------------------------------------------
_PYTHON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}
_DEFAULTS = {str: "", int: 0, float: 0.0, bool: False}


class ToolEnvironment:
    """One selfgym env as TRL's ``environment_factory`` wants it (subclasses made by :func:`tool_environment` add one
    public method per tool). ``reset(**row)`` starts an episode on the row's ``task_id``, ``task`` (a task dict)
    and/or ``seed`` (other columns, ``prompt`` included, are TRL's) and returns the first observation, which TRL
    appends to the prompt; each tool call is one env step and returns its observation; ``get_reward()`` is the
    reward of the episode's last step, or None for an episode lost to the infrastructure (TRL then leaves it out).
    """

    def __init__(self, make_env: Callable[[], gym.Env]) -> None:
        self._make_env = make_env
        self._env: gym.Env | None = None
        self._rewards: list[float] = []
        self._done = False
        self._lost: str | None = None

    def reset(self, **row: Any) -> str:
        """Start the episode of a dataset row; the first observation."""
        if self._env is None:
            self._env = self._make_env()
        task, task_id = row.get("task"), row.get("task_id")
        options = {"task": task if isinstance(task, Task) else Task.from_dict(task)} if task else (
            {"task_id": task_id} if task_id else None)
        self._rewards, self._done, self._lost = [], False, None
        observation, _ = self._env.reset(seed=row.get("seed"), options=options)
        return observation

    def get_reward(self) -> float | None:
        """The episode's reward (its last step's); None when the infrastructure lost it."""
        if self._lost is not None:
            return None
        return self._rewards[-1] if self._rewards else 0.0

    def _call(self, name: str, arguments: Mapping[str, Any]) -> str:
        if self._env is None:
            raise RuntimeError("call reset() before a tool")
        if self._done:
            return "The episode has ended: no tool can be called any more."
        try:
            observation, reward, terminated, truncated, _ = self._env.step({"name": name,
                                                                            "arguments": dict(arguments)})
        except InfrastructureError as exc:
            self._lost, self._done = str(exc), True
            raise
        self._rewards.append(float(reward))
        self._done = bool(terminated or truncated)
        return observation

    def _close(self) -> None:
        """Close the env (private: TRL would take a public method for a tool)."""
        if self._env is not None:
            self._env.close()
            self._env = None


def tool_method(schema: Mapping[str, Any]) -> Callable[..., str]:
    """A method calling one tool (OpenAI form), with the signature, type hints and Google docstring from which
    transformers' ``get_json_schema`` renders the tool again for the model."""
    function = schema["function"]
    name, parameters = function["name"], function.get("parameters", {})
    required = set(parameters.get("required", []))
    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {"return": str}
    lines = []
    for arg, arg_schema in parameters.get("properties", {}).items():
        kind = _PYTHON_TYPES.get(arg_schema.get("type"), str)
        default = inspect.Parameter.empty if arg in required else _DEFAULTS[kind]
        signature.append(inspect.Parameter(arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                                           annotation=kind))
        annotations[arg] = kind
        description = " ".join(str(arg_schema.get("description", arg)).split())
        if "enum" in arg_schema:
            description += f" (choices: {json.dumps(list(arg_schema['enum']))})"
        lines.append(f"    {arg}: {description}")

    def call(self: ToolEnvironment, *args: Any, **kwargs: Any) -> str:
        bound = inspect.signature(call).bind(self, *args, **kwargs)
        return self._call(name, {k: v for k, v in bound.arguments.items() if k != "self"})

    call.__name__ = call.__qualname__ = name
    call.__signature__ = inspect.Signature(signature, return_annotation=str)
    call.__annotations__ = annotations
    summary = " ".join(str(function.get("description", name)).split())
    call.__doc__ = summary + ("\n\nArgs:\n" + "\n".join(lines) if lines else "")
    return call


def tool_environment(env_id: str | None = None, *, url: str | None = None, token: str | None = None,
                     **env_kwargs: Any) -> Callable[[], ToolEnvironment]:
    """TRL's ``environment_factory`` for a selfgym env: ``env_id`` made here (with ``env_kwargs``, e.g. a shared
    ``pool=``), or the env an OpenEnv server at ``url`` serves (``selfgym/Remote-v0``). The class it makes has a
    method per tool the env declares (``answer(answer)``, ``bash(command)``, ...).

    >>> trainer = GRPOTrainer(model=..., train_dataset=tool_dataset(tasks),                   # doctest: +SKIP
    ...                       environment_factory=tool_environment(url="http://127.0.0.1:8000"))
    """
    if (env_id is None) == (url is None):
        raise ValueError("give tool_environment an env_id or the url of an env server, not both")
    if url is not None:
        make = functools.partial(gym.make, "selfgym/Remote-v0", url=url, token=token, **env_kwargs)
        label = url
    else:
        make = functools.partial(gym.make, env_id, **env_kwargs)
        label = env_id
    probe = make()
    try:
        schemas = probe.unwrapped.tool_schemas()
    finally:
        probe.close()
    if not schemas:
        raise ValueError(f"{label} offers no tools")
    clash = {s["function"]["name"] for s in schemas} & {"reset", "get_reward"}
    if clash:
        raise ValueError(f"{label} has tools named like TRL's own methods: {sorted(clash)}")
    base_name = re.sub(r"[^A-Za-z0-9]", "", (env_id or "Remote").rpartition("/")[2].split("-v")[0]) or "Remote"
    methods = {s["function"]["name"]: tool_method(s) for s in schemas}
    cls = type(f"Selfgym{base_name}ToolEnv", (ToolEnvironment,), {"__module__": __name__, **methods})
    return functools.partial(cls, make)


def tool_dataset(tasks: Iterable[Task], *, custom: bool = False):
    """TRL's ``train_dataset`` for :func:`tool_environment`: a row per task with an empty user prompt (the env's
    first observation is appended to it) and the task's ``task_id``, or with ``custom`` the task itself (for
    tasks the env's source lacks; a server must allow custom tasks)."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": [{"role": "user", "content": ""}],
                               **({"task": task.to_dict()} if custom else {"task_id": task.id})} for task in tasks])
