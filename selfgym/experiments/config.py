"""Experiment files: YAML validated with pydantic. A mistake is one ``ConfigError`` naming the key, its line and
what was expected, never a stack trace."""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Annotated, Any, Literal

import gymnasium as gym
from pydantic import Field, field_validator, model_validator

from ..agents.policy import Sampling
from ..agents.grpo_config import GRPOConfig
from ..agents.score_config import SCoReConfig
from ..agents.self_debugging import SelfDebuggingConfig
from ..agents.self_training_config import SelfTrainConfig
from ..agents.tree_learning_config import TreeLearningConfig
from ..agents.spec import AgentSpec
from ..envs.pools import env_class
from ..params import Problem, check_arguments, missing_arguments
from ..yaml_config import StrictModel as _Strict
from ..yaml_config import load_yaml_model, spec_of


# what the runner passes to an env itself: a file may not
ENV_SKIP = ("pool", "source")


class ConfigError(ValueError):
    """An experiment file that cannot be run, with the file, line and key at fault."""


class FamilySpec(_Strict):
    """A task family for the curriculum: a reasoning-gym generator (``name``) with its number of difficulty
    levels, or the env's own task source (``source: env``) levelled by task difficulty."""

    name: str
    levels: int = Field(default=3, ge=1, le=20)


class EnvConfig(_Strict):
    """The env: a Gymnasium id, and ``kwargs`` for ``gym.make`` as the env class's ``__init__`` declares them
    (checked when the file is read)."""

    id: str = "selfgym/Math-v0"
    kwargs: dict[str, Any] = Field(default_factory=dict)
    families: list[FamilySpec] = Field(default_factory=list)  # empty: the env's task source as one family
    parallel: int = Field(default=4, ge=1, le=64, description="envs played in lockstep, sharing one pool")


class AgentConfig(AgentSpec):
    """The agent of an experiment (:class:`selfgym.agents.AgentSpec`'s fields) and how it samples while it
    trains (evaluations are greedy)."""

    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.7, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    system_prompt: str | None = None

    def sampling(self) -> Sampling:
        return Sampling(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p)


class EvalOnlySpec(_Strict):
    """Play the curriculum's tasks and evaluate; nothing is learned (a baseline, or a curriculum's own run)."""

    name: Literal["eval-only"] = "eval-only"


class ReflexionSpec(_Strict):
    """Reflexion: up to ``trials`` attempts per task, each after a reflection on the last failure."""

    name: Literal["reflexion"]
    trials: int = Field(default=3, ge=1, description="attempts per task")
    memory_size: int = Field(default=3, ge=1, description="reflections carried into the next attempt")


SelfTrainingSpec = spec_of(SelfTrainConfig, ("self-training", "re-rest"), {
    "method": "name (self-training: STaR)", "iterations": "budget.episodes // train_every rounds",
    "sampling": "agent:", "reflector_sampling": "agent: (the policy corrects itself)",
    "train_reflector": "false (the policy is its own reflector)", "system_prompt": "agent.system_prompt",
    "seed": "seed", "output_dir": "the run folder's checkpoints/round-N",
}, doc="STaR (``self-training``) or Re-ReST (``re-rest``), :class:`selfgym.agents.SelfTrainConfig`'s fields but "
       "those the run sets: fine-tune on verified successes (Re-ReST adds verified corrections of the failures) "
       "every ``train_every`` tasks. ``canonical``: each success is learned in the form its env asks for (the "
       "env's ``canonical_reply`` of the verified answer, verified again): the model learns the answer format "
       "from its own right answers.", extra={
    "canonical": (bool, Field(default=False, description="learn successes in the env's canonical reply form")),
    "train_every": (int, Field(default=32, ge=1, description="tasks per fine-tuning round")),
})


_GRPO_RUN_SETS = {
    "steps": "budget.episodes // (tasks_per_step x group_size)", "seed": "seed", "output_dir": "the run folder's grpo/",
    "save_every": "1 (after every step)", "keep_checkpoints": "1", "resume": "selfgym run --resume",
    "max_new_tokens": "agent.max_new_tokens", "temperature": "agent.temperature", "top_p": "agent.top_p",
    "system_prompt": "agent.system_prompt (none given: the rollout's default)",
}
GRPOSpec = spec_of(GRPOConfig, ("grpo",), _GRPO_RUN_SETS,
                   doc="GRPO (:class:`selfgym.agents.grpo.GRPOConfig`, every field but those the run sets): "
                       "``tasks_per_step`` tasks a step, ``group_size`` episodes each, compared within their group.")

SCoReSpec = spec_of(SCoReConfig, ("score",), {
    **_GRPO_RUN_SETS, "steps": "stage1_steps + stage2_steps (budget.episodes must be that x tasks_per_step x "
                               "group_size)", "output_dir": "the run folder's score/", "kl_beta": "beta_1, beta_2",
}, doc="SCoRe (:class:`selfgym.agents.SCoReConfig`, every field but those the run sets): GRPO on two-attempt "
       "episodes of the env (an attempt, ``feedback``, a second attempt; the env's episode is one attempt, e.g. "
       "Math-v0 with ``max_steps: 1``), ``stage1_steps`` of stage I then ``stage2_steps`` of stage II.")


TreeSearchSpec = spec_of(TreeLearningConfig, ("tree-search",), {
    "rounds": "one every train_every tasks searched", "sampling": "agent: (max_new_tokens, temperature, top_p)",
    "system_prompt": "agent.system_prompt", "seed": "seed",
    "output_dir": "the run folder (trees.jsonl, checkpoints/round-N)",
}, doc="Learning from search trees (:class:`selfgym.agents.TreeLearningConfig`'s fields but those the run sets): "
       "each step searches a tree per task with the current policy (best-of-``k`` expansion over forks of the "
       "env, logged to ``trees.jsonl``); every ``train_every`` tasks a round learns from the trees since the last "
       "one: DPO on sibling preference pairs (Agent Q), SFT on the successful branches (ReST-MCTS*), or both.",
    extra={"train_every": (int, Field(default=32, ge=1, description="tasks searched per learning round"))})


SelfDebuggingSpec = spec_of(SelfDebuggingConfig, ("self-debugging",), {
    "sampling": "agent: (max_new_tokens, temperature, top_p; temperature 0 is greedy)",
    "system_prompt": "agent.system_prompt",
}, doc="Self-Debugging (:class:`selfgym.agents.self_debugging.SelfDebuggingConfig`): each task is one episode of "
       "up to ``turns`` attempts (env.kwargs.max_steps must allow them); after a failed attempt the model reads "
       "``feedback`` (simple, unit-test, explanation, trace) and, in the explanation modes, explains its code in "
       "a turn of its own before the fix. Nothing is learned.")


# Each method lists only its own fields; ``name`` picks the member (a typo in one is a file:line error).
MethodSpec = Annotated[EvalOnlySpec | ReflexionSpec | SelfTrainingSpec | GRPOSpec | TreeSearchSpec | SCoReSpec
                       | SelfDebuggingSpec,
                       Field(discriminator="name")]


class CurriculumSpec(_Strict):
    """The curriculum, and its parameters as its class's ``__init__`` declares them (checked when the file is
    read: ``selfgym.curricula.CURRICULA[name]``); with ``store``, kept in a curriculum store (an SQLite file or
    ``postgresql://`` URL) under ``run`` (default: the experiment's name), shared with env servers and other runs
    of that curriculum run, and started from earlier runs' outcomes of the same model unless ``inherit: false``.
    A ``self_evolving`` curriculum audits every task it writes against the experiment's env (``selfgym audit``'s
    batteries) unless ``params.audit`` says otherwise (another env id or spec, or ``null``: no audit)."""

    name: Literal["uniform", "ladder", "plr", "learning_progress", "learnability", "self_evolving"] = "uniform"
    params: dict[str, Any] = Field(default_factory=dict)
    store: str | None = Field(default=None, description="curriculum store: SQLite file or postgresql:// URL")
    run: str | None = Field(default=None, description="the store's curriculum run (default: the experiment name)")
    inherit: bool = Field(default=True, description="a new store run starts from the model's earlier outcomes")

    def problems(self) -> list[Problem]:
        """What is wrong with ``params`` for this curriculum: each against its declared type and range, then
        the combination, by making the curriculum over a stand-in family (it starts nothing)."""
        from ..curricula import CURRICULA, FixedFamily
        from ..envs.task import Task

        cls = CURRICULA[self.name]
        found = check_arguments(cls.__init__, self.params, skip=("families", "seed"))
        if not found:
            try:
                cls([FixedFamily("check", [Task(id="check", family="check", prompt="check")])], seed=0, **self.params)
            except (ValueError, TypeError) as exc:
                found.append(((), str(exc).splitlines()[0]))
        return [(("params", *loc), message) for loc, message in found]


class BudgetSpec(_Strict):
    episodes: int = Field(default=64, ge=1, description="training tasks played (not counting evaluation)")


class EvalSpec(_Strict):
    """Held-out evaluations (greedy, one attempt a task) before, during and after the run. ``env_kwargs`` judge
    them differently from training (over ``env.kwargs``: e.g. strict answer extraction); ``also`` names more
    settings to judge the same tasks under, each reported beside the first (``{flexible: {extraction:
    flexible}}``). Each evaluation stores every task's outcome, so the report pairs the first and the last (exact
    McNemar test)."""

    tasks: int = Field(default=32, ge=1, description="held-out tasks, drawn once with the eval seed")
    every: int = Field(default=0, ge=0, description="evaluate every N training episodes (0: before and after)")
    seed: int = 12345
    reflection: bool = Field(default=False, description="also evaluate with one Reflexion retry")
    name: str = Field(default="held-out", min_length=1, description="what the first setting is called in reports")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="over env.kwargs, for held-out envs")
    also: dict[str, dict[str, Any]] = Field(default_factory=dict, description="more settings: name -> env kwargs")


class ExecutorSpec(_Strict):
    """Where episodes are played. ``local``: envs in the learner's process. ``ray``: envs in ``workers`` env
    workers (Ray actors, each with its own sandbox pools on its node) of the cluster at ``address``; the model
    stays with the learner, which generates for every env at once. ``executor: ray`` is short for
    ``executor: {name: ray}``."""

    name: Literal["local", "ray"] = "local"
    address: str | None = Field(default=None, description="Ray cluster (host:6379, ray://host:10001, auto); "
                                                         "none: a local Ray instance")
    workers: int = Field(default=2, ge=1, description="env workers (ray; local envs all live in the learner)")
    cpus_per_worker: float = Field(default=1.0, ge=0)
    resources: dict[str, float] | None = Field(
        default=None, description="custom Ray resources of each env worker (default: docker, when nodes offer it)")
    docker_host: str | None = Field(
        default=None, description="Docker engine of the sandboxes (default: DOCKER_HOST where the envs run)")
    docker_cert_path: str | None = Field(default=None, description="folder with ca.pem, cert.pem, key.pem (TLS)")

    @model_validator(mode="after")
    def _ray_only(self) -> ExecutorSpec:
        if self.name == "local":
            given = [key for key in ("address", "resources") if getattr(self, key) is not None]
            if given:
                raise ValueError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to the ray "
                                 "executor (name: ray)")
        return self

    def build(self):
        """The :class:`~selfgym.runtime.executors.Executor` this spec describes (a context manager)."""
        from ..runtime import make_executor

        return make_executor(self.name, self.workers, address=self.address,
                             cpus_per_worker=self.cpus_per_worker, resources=self.resources,
                             docker_host=self.docker_host, docker_cert_path=self.docker_cert_path)


class ExperimentConfig(_Strict):
    name: str
    seed: int = 0
    output_dir: str = "runs/{name}"
    env: EnvConfig = Field(default_factory=EnvConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    method: MethodSpec = Field(default_factory=EvalOnlySpec)
    curriculum: CurriculumSpec = Field(default_factory=CurriculumSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_by_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        if not value or "/" in value or value.startswith("."):
            raise ValueError("name must be a plain folder name (no '/', not starting with '.')")
        return value

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))

    def problems(self) -> list[Problem]:
        """What the classes the file names would refuse, found before anything starts: ``env.kwargs`` (and the
        held-out settings over them) against the env class's signature, ``curriculum.params`` against the
        curriculum's. Each is ``(key path in the file, message)``."""
        found = [(("curriculum", *loc), message) for loc, message in self.curriculum.problems()]
        if self.method.name in ("grpo", "score") and self.agent.temperature <= 0:
            found.append((("agent", "temperature"), f"must be > 0 for method {self.method.name}: it compares sampled "
                                                    "episodes of a task, and greedy ones would all be the same"))
        if self.method.name == "score":
            method = self.method
            episodes = (method.stage1_steps + method.stage2_steps) * method.tasks_per_step * method.group_size
            if self.budget.episodes != episodes:
                found.append((("budget", "episodes"), f"must be {episodes} for method score: (stage1_steps + "
                                                      "stage2_steps) x tasks_per_step x group_size two-attempt "
                                                      "episodes"))
        if self.method.name == "tree-search" and self.agent.temperature <= 0 and self.method.k > 1:
            found.append((("agent", "temperature"), "must be > 0 for method tree-search with k > 1: the k replies "
                                                    "of a node would all be the same greedy one"))
        try:
            cls = env_class(self.env.id)
        except ValueError as exc:
            ids = [key for key in gym.registry if key.startswith("selfgym/")]
            close = difflib.get_close_matches(self.env.id, ids, n=1)
            return [(("env", "id"), f"{exc}{f' (did you mean {close[0]!r}?)' if close else ''}")] + found
        settings = [(("env", "kwargs"), self.env.kwargs), (("eval", "env_kwargs"), self.eval.env_kwargs)]
        settings += [(("eval", "also", name), kwargs) for name, kwargs in self.eval.also.items()]
        for where, kwargs in settings:
            found += [((*where, *loc), message) for loc, message in check_arguments(cls.__init__, kwargs, ENV_SKIP)]
        found += [(("env", "kwargs", *loc), message)
                  for loc, message in missing_arguments(cls.__init__, self.env.kwargs, ENV_SKIP)]
        if self.method.name == "self-debugging":
            max_steps = self.env.kwargs.get("max_steps", _default_of(cls.__init__, "max_steps"))
            if isinstance(max_steps, int) and max_steps < self.method.turns:
                found.append((("method", "turns"), f"is {self.method.turns}, but the env allows {max_steps} "
                                                   f"attempt(s) per episode: set env.kwargs.max_steps to "
                                                   f"{self.method.turns} (or lower turns)"))
        return found


def _default_of(function: Any, name: str) -> Any:
    """The default of ``function``'s parameter ``name`` (None: no such parameter, or no default)."""
    parameter = inspect.signature(function).parameters.get(name)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file; every problem is a :class:`ConfigError` with file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment file")
    return load_yaml_model(path, ExperimentConfig, ConfigError, "name:, env:, agent:, method:, ...",
                           check=ExperimentConfig.problems)
