"""reasoning-gym's procedural generators as a task source, with the difficulty attributes curricula turn.

A task from a generator is reproducible from a small JSON *spec* kept in ``Task.data["reasoning_gym"]``:
``{"name", "levels", "config", "seed", "size", "index"}`` (``levels`` are curriculum levels per difficulty
attribute; ``config`` extra config fields). The spec, not a copy of the generator's entry, is what answers are
scored against: scorers compare with native Python values (tuples) that a JSON round trip would turn into lists,
and some depend on the dataset's config.

Scoring with a generator's own ``score_answer`` runs on model output, and a few scorers ``eval`` it or hand it
to sympy's ``parse_expr`` (which evaluates Python). :func:`harden_scorers` and :func:`screen_answer` close that
hole; they are applied in the verifier worker process, where scoring happens under a deadline.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from ..task import Task
from . import canary
from .strict import REFUSED, strict_score

# Generators whose answer is one number or expression, where any equivalent form is right: their answers are
# also judged by math-verify (``1/2`` for ``0.5``). Others (formats that matter: reduced fractions, expanded
# polynomials, rounded roots, word answers) are judged by the generator's ``score_answer`` alone.
SYMBOLIC_GENERATORS = frozenset({
    "aiw", "basic_arithmetic", "binary_alternation", "chain_sum", "coin_flip", "complex_arithmetic", "count_bits",
    "count_primes", "decimal_chain_sum", "dice", "gcd", "gsm_symbolic", "largest_island", "lcm", "leg_counting",
    "letter_counting", "maze", "number_sequence", "products", "rectangle_count", "rotten_oranges", "simple_equations",
    "simple_geometry",
})

# Scorers that call ``eval`` on the answer (or on a gold list literal): ``eval`` is replaced by
# ``ast.literal_eval`` in their module, which reads the same lists and runs nothing.
EVAL_SCORERS = frozenset({"binary_matrix", "n_queens", "number_sorting", "spiral_matrix", "string_insertion"})
# Scorers that hand the answer to sympy's ``parse_expr``: only arithmetic is let through (see screen_answer).
PARSE_EXPR_SCORERS = frozenset({"countdown", "intermediate_integration", "polynomial_multiplication", "puzzle24",
                                "simple_integration"})
# Scorers that accept any antiderivative in the task's variable (checked by differentiating it).
INTEGRATION_SCORERS = frozenset({"intermediate_integration", "simple_integration"})
# Generators whose output depends on Python's string hashing (set iteration order), not only on their seed.
HASH_SEED_DEPENDENT = frozenset({"codeio", "isomorphic_strings", "polynomial_multiplication", "ransom_note",
                                 "word_ladder"})
# Not a generator of its own: it mixes others, configured with dataclasses that are not JSON.
NOT_GENERATORS = frozenset({"composite"})

_SAFE_EXPRESSION = re.compile(r"[0-9A-Za-z\s+\-*/^().,=]*")
_SAFE_NAMES = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                         "exp", "log", "ln", "sqrt", "pi", "Abs", "Integral"})


_REGISTRY_LOCK = threading.Lock()


def _registry() -> tuple[dict, dict]:
    # The whole package, under a lock: its __init__ registers every generator, and a thread that reads the
    # registry while another is still importing would see (and cache) a partial list.
    with _REGISTRY_LOCK:
        import reasoning_gym  # noqa: F401
        from reasoning_gym.factory import CURRICULA, DATASETS
    return DATASETS, CURRICULA


def generator_names() -> list[str]:
    """Every reasoning-gym generator this source can use, sorted (not those :data:`.strict.REFUSED`)."""
    datasets, _ = _registry()
    return sorted(set(datasets) - NOT_GENERATORS - set(REFUSED))


def reasoning_gym_families() -> dict[str, dict[str, dict[str, Any]]]:
    """Each generator's difficulty attributes: ``{name: {attribute: {"levels", "values", "description"}}}``.

    ``levels`` is how many levels the attribute has (``0 .. levels - 1``), ``values`` what each level sets
    (a value, or a ``[low, high]`` range), as reasoning-gym's curriculum defines them. Generators without a
    curriculum have no attributes (``{}``): they come at one difficulty.
    """
    return copy.deepcopy(_families())


@lru_cache(maxsize=1)
def _families() -> dict[str, dict[str, dict[str, Any]]]:
    _, curricula = _registry()
    families = {}
    for name in generator_names():
        attributes = _curriculum(name).attributes if name in curricula else {}
        families[name] = {
            attr: {"levels": len(spec.levels), "values": _json_safe(spec.levels), "description": spec.description}
            for attr, spec in attributes.items()
        }
    return families


def _curriculum(name: str):
    from reasoning_gym.factory import create_curriculum
    return create_curriculum(name)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def resolve_levels(name: str, level: int | Mapping[str, int]) -> dict[str, int]:
    """Per-attribute levels from one level for all (clipped to each attribute's top) or a mapping."""
    families = _families()
    if name not in families:
        close = difflib.get_close_matches(name, list(families), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown reasoning-gym generator {name!r}{hint}")
    attributes = families[name]
    if isinstance(level, Mapping):
        unknown = set(level) - set(attributes)
        if unknown:
            raise ValueError(f"{name} has no difficulty attribute(s) {sorted(unknown)}; it has {sorted(attributes)}")
        levels = {attr: int(level.get(attr, 0)) for attr in attributes}
    else:
        if int(level) < 0:
            raise ValueError(f"level must be >= 0, got {level}")
        levels = {attr: min(int(level), spec["levels"] - 1) for attr, spec in attributes.items()}
    for attr, value in levels.items():
        if not 0 <= value < attributes[attr]["levels"]:
            raise ValueError(f"{name}.{attr} has levels 0..{attributes[attr]['levels'] - 1}, got {value}")
    return levels


def dataset_key(spec: Mapping[str, Any]) -> str:
    """The dataset part of a spec (everything but the index), as a canonical string."""
    return json.dumps({k: spec[k] for k in ("name", "levels", "config", "seed", "size")}, sort_keys=True)


@lru_cache(maxsize=32)
def _dataset(key: str):
    spec = json.loads(key)
    datasets, curricula = _registry()
    dataset_cls, config_cls = datasets[spec["name"]]
    if spec["name"] in curricula:
        curriculum = _curriculum(spec["name"])
        for attr, level in spec["levels"].items():
            curriculum.set_attr_level(attr, level)
        config = curriculum.generate_configuration({"seed": spec["seed"], "size": spec["size"]})
        config = dataclasses.replace(config, **spec["config"])
    else:
        config = config_cls(seed=spec["seed"], size=spec["size"], **spec["config"])
    return dataset_cls(config=config)


@lru_cache(maxsize=4096)
def _entry(key: str, index: int) -> dict[str, Any]:
    return _dataset(key)[index]


def entry_for(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The generator's entry (question, answer, metadata) that a task spec stands for."""
    return _entry(dataset_key(spec), int(spec["index"]))


def prepare(spec: Mapping[str, Any]) -> None:
    """Build the dataset and entry of ``spec`` now (cached), so that scoring later is quick."""
    entry_for(spec)


def scoring_entry(spec: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The entry to score against: the generator's own (native types) when it regenerates the task that was
    stored, else the stored one (generators that depend on ``PYTHONHASHSEED`` differ between processes)."""
    native = entry_for(spec)
    same = _json_safe({key: native.get(key) for key in ("question", "answer", "metadata")}) == _json_safe(stored)
    return native if same else dict(stored)


def screen_answer(name: str, answer: str, metadata: Mapping[str, Any] | None = None) -> str | None:
    """Why ``answer`` may not reach generator ``name``'s scorer (given the task's ``metadata``), or ``None``."""
    if name not in PARSE_EXPR_SCORERS:
        return None
    if not _SAFE_EXPRESSION.fullmatch(answer):
        return "only an arithmetic expression (digits, letters, + - * / ^ ( ) . , =) is accepted"
    words = set(re.findall(r"[A-Za-z_]\w*", answer))
    names = {word for word in words if len(word) > 1}
    if not names <= _SAFE_NAMES:
        return f"unknown names {sorted(names - _SAFE_NAMES)[:5]} in the expression"
    variable = (metadata or {}).get("variable")
    if name in INTEGRATION_SCORERS and variable is not None:
        # d/dx treats any other letter as a constant: "F(x) + C + G(X) + C" would pass the tasks of both answers
        others = {word for word in words if len(word) == 1} - {variable, "C", "E"}
        if others:
            return f"an antiderivative in {variable} may use no other variable ({', '.join(sorted(others))})"
    return None


def harden_scorers() -> None:
    """Make the scorers that ``eval`` answers read them with ``ast.literal_eval`` instead (idempotent)."""
    datasets, _ = _registry()
    for name in EVAL_SCORERS:
        module = sys.modules[datasets[name][0].__module__]
        module.eval = ast.literal_eval  # module globals shadow the builtin for code in that module


def score_answer(spec: Mapping[str, Any], entry: Mapping[str, Any], answer: str) -> tuple[float, str | None]:
    """The generator's own score of ``answer`` for the task ``entry`` (``question``, ``answer``, ``metadata``)
    in [0, 1], and why the answer was rejected unscored (else ``None``).

    selfgym's own rules (:mod:`.strict`) decide first where the generator's scorer is lax. Run this in the
    verifier worker (it runs third-party scorers on model output); call :func:`harden_scorers` there first.
    """
    return _score(spec["name"], _dataset(dataset_key(spec)), scoring_entry(spec, entry), answer)


def _score(name: str, dataset: Any, entry: Mapping[str, Any], answer: str) -> tuple[float, str | None]:
    """``score_answer`` on the generator's ``dataset`` and the (scoring) ``entry``."""
    if name in REFUSED:  # a stored task of a generator selfgym refuses earns nothing
        return 0.0, f"generator {name!r} is refused: {REFUSED[name]}"
    rejected = screen_answer(name, answer, entry.get("metadata"))
    if rejected is not None:
        return 0.0, rejected
    decided = strict_score(name, answer, entry)  # selfgym's rules where the scorer is lax
    if decided is not None:
        return decided
    try:
        score = float(dataset.score_answer(answer, entry))
    except Exception as exc:  # noqa: BLE001 - a scorer that chokes on an odd answer scores it 0
        return 0.0, f"the scorer failed on this answer ({type(exc).__name__})"
    return min(max(score, 0.0), 1.0), None


class ReasoningGymSource:
    """A :class:`~selfgym.envs.TaskSource` over one reasoning-gym generator at one difficulty.

    Args:
        name: the generator (see :func:`generator_names`), which is also the tasks' ``family``.
        level: one curriculum level for every difficulty attribute (clipped to each one's top), or a mapping
            ``{attribute: level}`` (others at 0). See :func:`reasoning_gym_families`.
        seed: the generator's seed; with ``level`` and ``index`` it fixes a task.
        size: how many tasks the source holds (``index`` in ``0 .. size - 1``).
        **config: extra fields of the generator's config dataclass (JSON values), applied over the level's.

    Tasks have ``difficulty`` = the highest attribute level, and ``data`` = ``{"answer": gold or None,
    "reasoning_gym": spec, "attributes": the generator's own difficulty record, "metadata": what its scorer
    reads}``. Some generators accept many answers and have no single gold answer (``answer`` is ``None``):
    only their scorer can judge.

    A task id (``"gcd/L0/s0/17"``) names the same task in every process, except for the generators in
    :data:`HASH_SEED_DEPENDENT`, which also depend on ``PYTHONHASHSEED``; a stored :class:`Task` is always
    judged as stored.
    """

    def __init__(self, name: str, level: int | Mapping[str, int] = 0, *, seed: int = 0, size: int = 1000,
                 **config: Any) -> None:
        if name in NOT_GENERATORS:
            raise ValueError(f"{name!r} is not a single generator; mix sources with TaskMix instead")
        if name in REFUSED:
            raise ValueError(f"reasoning-gym generator {name!r} is refused: {REFUSED[name]}")
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        try:
            json.dumps(config)
        except TypeError as exc:
            raise ValueError(f"config values must be JSON-serialisable so tasks can be replayed: {exc}") from None
        self.family = name
        self.levels = resolve_levels(name, level)
        self.seed, self.size, self.config = int(seed), int(size), dict(config)
        self.difficulty = max(self.levels.values(), default=0)
        self._spec = {"name": name, "levels": self.levels, "config": self.config, "seed": self.seed,
                      "size": self.size}
        try:
            self._dataset = _dataset(dataset_key(self._spec))
        except (AssertionError, ValueError, TypeError) as exc:
            raise ValueError(f"reasoning-gym cannot make {name} at levels {self.levels} with config "
                             f"{self.config}: {exc}") from None
        # the canary gate: a generator whose scoring accepts what is never right is refused (see .canary)
        dataset = self._dataset
        harden_scorers()
        canary.gate(name, dataset_key(self._spec),
                    lambda: [dataset[index] for index in range(min(self.size, canary.CANARY_TASKS))],
                    lambda entry, answer: _score(name, dataset, entry, answer)[0])
        level_tag = ",".join(f"{a}={v}" for a, v in sorted(self.levels.items())) if len(set(self.levels.values())) > 1 \
            else str(self.difficulty)
        config_tag = f"+{hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]}" if config else ""
        self._prefix = f"{name}/L{level_tag}{config_tag}/s{self.seed}/"

    def task(self, index: int) -> Task:
        """The task at ``index`` (``0 <= index < size``)."""
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} is outside 0..{self.size - 1}")
        entry = self._dataset[index]
        answer = entry.get("answer")
        metadata = _json_safe(entry.get("metadata", {}))
        return Task(
            id=f"{self._prefix}{index}", family=self.family, prompt=str(entry["question"]),
            difficulty=self.difficulty,
            data={"answer": None if answer is None else str(answer), "reasoning_gym": {**self._spec, "index": index},
                  "attributes": metadata.get("difficulty"), "metadata": metadata},
        )

    def sample(self, rng: np.random.Generator) -> Task:
        return self.task(int(rng.integers(self.size)))

    def get(self, task_id: str) -> Task:
        index = task_id[len(self._prefix):] if task_id.startswith(self._prefix) else ""
        if not index.isdigit() or int(index) >= self.size:
            raise KeyError(f"no task {task_id!r} in {self!r}; its ids are {self._prefix}<0..{self.size - 1}>")
        return self.task(int(index))

    def __iter__(self) -> Iterator[Task]:
        return (self.task(index) for index in range(self.size))

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"ReasoningGymSource({self.family!r}, levels={self.levels}, seed={self.seed}, size={self.size})"
