"""Tree search over forkable env states (Agent Q, ReST-MCTS*): MCTS whose leaves are scored by the env's verifier.

One search per task, many tasks at once (the policy's generation, the cost on a CPU, is batched across them):

1. **Select**: from the root, descend by PUCT, ``Q(child) + c * prior(child) * sqrt(N(node)) / (1 + N(child))``,
   through children whose episode is still open (not ended, under ``max_depth``), to a node none of whose children
   is open: a leaf, or a node whose branches all ended (it is widened: ``k`` more proposals).
2. **Expand**: the policy proposes ``k`` replies at the node (one batched, sampled call for every task's node); with
   ``critique`` the model ranks its own proposals (Agent Q's self-critique: a greedy call listing them), which sets
   their priors (a ranking it does not give, in any form we can read, leaves them uniform). Each proposal is played
   from the node's saved state (:meth:`~selfgym.envs.base.TextEnv.restore_state` into the task's env, one
   ``step``, :meth:`~selfgym.envs.base.TextEnv.clone_state`): a child with the env's real observation and reward.
   A proposal equal to a sibling's action is not played again (the env is deterministic given its state), so a
   widened node gathers distinct replies; a round whose proposals all repeat closes the node. The critique ranks
   each round's proposals among themselves.
3. **Evaluate**: an ended child is worth the env's reward; an open one (``value``) its step's reward (``"reward"``),
   the share the critique gave it (``"critique"``), or the return of playing on from it with the policy to the
   episode's end (``"rollout"``; its steps become nodes of the tree and count against the budget).
4. **Back up**: each new node's value is added along its path to the root (visits and value sums).

Restoring a saved state into one env per task is how branches move: ``benchmarks/fork_bench.py`` measured a restore
into a running env at 28-36 ms on Math-v0 against 52-67 ms for ``fork()`` (a new env each time) and 145-261 ms for
replaying the prefix; Math-v0 without tools keeps nothing in a sandbox, so there it costs nothing at all.

Budgets are per task: ``env_steps`` counts every env step of every branch and rollout (exact: a step is never taken
past it); ``tokens`` (prompt and completion tokens of proposals, critiques and rollouts) is checked before each
generation, so a search may pass it by one batch. When a budget runs out the search returns what it found.

What the search **commits to** (the answer it would give) is chosen by ``commit``: ``"reward"`` takes the ended
branch with the highest reward, which is honest only where the env shows the agent its reward (Math-v0 answers
"Correct."/"Incorrect."; with ``attempts > 1`` the episode goes on after a wrong answer); ``"prior"`` follows the
critique's favourite child from the root (the first proposal where there was no critique), never looking at a
reward: the choice for envs whose verdict is hidden (Code-v0's hidden tests). A result reports both that path's
success and whether any branch succeeded (a pass@budget, not a committed answer).

An :class:`~selfgym.sandbox.InfrastructureError` while playing a branch replays it (restore and step again, up to
``infra_replays`` times, not counted in the budget); past that the task's search ends with ``error`` set: it is no
result of the agent's, never a reward of 0.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from ..envs.forks import EnvState, step_from
from ..envs.task import Task
from ..sandbox import InfrastructureError
from .policy import Completion, Policy, Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT, env_class_of, fitting_replies
from .search_tree import SearchTree, TreeNode

log = logging.getLogger(__name__)
CRITIQUE_PROMPT = (
    "Here are {k} candidate replies to the last message above:\n\n{candidates}\n\nWhich one is most likely to be "
    "right? Rank them from best to worst by their numbers, for example: {example}. Reply with the ranking only."
)


@dataclass
class TreeSearchConfig:
    """How :class:`TreeSearch` searches one task (the budgets are per task).

    Args:
        k: proposals per expansion (sampled in one batched call, at ``temperature``).
        greedy: the first expansion of a node has the model's greedy reply (temperature 0) as one of its ``k``
            proposals, the other ``k - 1`` sampled: at ``temperature`` 1 a small model's samples are often much
            worse than its greedy reply, which the search then keeps in reach (a widening samples all ``k``).
        c_puct: PUCT's exploration constant (larger: more weight on the priors and on less visited children).
        critique: the model ranks its own ``k`` proposals (greedy, Agent Q's self-critique); the ranking sets
            their priors (the best ``k`` shares, the next ``k - 1``, ...; an unranked one 1/2). Without it, or
            when the reply holds no ranking, priors are uniform.
        value: the estimate of a child whose episode goes on: ``"reward"`` (its step's env reward, 0 mostly),
            ``"critique"`` (its prior), ``"rollout"`` (the return of playing on greedily to the episode's end;
            those steps are nodes of the tree and count against ``env_steps``).
        env_steps: env steps the search may take on one task, all branches and rollouts counted.
        tokens: prompt + completion tokens it may spend on one task (None: no limit); checked before each call.
        max_depth: env steps from the root beyond which no node is expanded (the env's own ``max_steps`` also
            ends episodes).
        commit: which path the search commits to: ``"reward"`` (the ended branch with the highest env reward:
            only where the env shows its reward to the agent) or ``"prior"`` (the critique's favourite child at
            each level, rewards unseen).
        stop_on_success: with ``commit="reward"``, a branch that ends with full reward ends the task's search.
        temperature, top_p, max_new_tokens: sampling of the proposals (temperature > 0: they must differ).
        critique_max_new_tokens: length of the critique's reply (greedy).
        rollout_temperature: sampling of rollouts (0: greedy).
        system_prompt: the system message of every conversation (None: none).
        infra_replays: times a branch lost to the infrastructure is played again before the task is an error.
        max_candidate_chars: a proposal is cut to this many characters in the critique's prompt.
    """

    k: int = 4
    greedy: bool = False
    c_puct: float = 1.0
    critique: bool = True
    value: Literal["reward", "critique", "rollout"] = "reward"
    env_steps: int = 16
    tokens: int | None = None
    max_depth: int = 8
    commit: Literal["reward", "prior"] = "reward"
    stop_on_success: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    critique_max_new_tokens: int = 24
    rollout_temperature: float = 0.0
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    infra_replays: int = 2
    max_candidate_chars: int = 400

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k (proposals per expansion) must be at least 1, got {self.k}")
        if self.env_steps < 1:
            raise ValueError(f"env_steps (the search's budget per task) must be at least 1, got {self.env_steps}")
        if self.tokens is not None and self.tokens < 1:
            raise ValueError(f"tokens must be at least 1 or None (no limit), got {self.tokens}")
        if self.max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {self.max_depth}")
        if self.c_puct < 0:
            raise ValueError(f"c_puct must be >= 0, got {self.c_puct}")
        if self.temperature <= 0 and self.k > 1:
            raise ValueError(f"temperature must be > 0 when k > 1 (the k proposals would be the same), got "
                             f"{self.temperature}")
        if self.value not in ("reward", "critique", "rollout"):
            raise ValueError(f"value must be 'reward', 'critique' or 'rollout', got {self.value!r}")
        if self.commit not in ("reward", "prior"):
            raise ValueError(f"commit must be 'reward' or 'prior', got {self.commit!r}")
        if self.infra_replays < 0:
            raise ValueError(f"infra_replays must be >= 0, got {self.infra_replays}")


@dataclass
class SearchResult:
    """One task's search: the tree, the path it commits to (``committed``: its last node; ``actions``: the replies
    along it, the episode the search would play), whether that path succeeded (by the env's verifier), whether any
    branch did, and what it cost. ``error``: the search was cut by the infrastructure (no result of the agent's)."""

    tree: SearchTree
    committed: int
    actions: list[str]
    success: bool
    any_success: bool
    env_steps: int
    tokens: int
    seconds: float
    error: str | None = None


def parse_ranking(text: str, k: int) -> list[float] | None:
    """Priors for ``k`` candidates from a critique's reply ("2, 1, 3", "Best: 2", "(3) > (1)"): the numbers
    1..k in the order they first appear; the best gets weight ``k``, the next ``k - 1``, ..., one not named 1/2;
    normalised to sum 1. None when no candidate number is in the reply (the caller takes uniform priors)."""
    ranked: list[int] = []
    for number in re.findall(r"\d+", text):
        index = int(number) - 1
        if 0 <= index < k and index not in ranked:
            ranked.append(index)
    if not ranked:
        return None
    weights = [0.5] * k
    for position, index in enumerate(ranked):
        weights[index] = float(k - position)
    total = sum(weights)
    return [w / total for w in weights]


def critique_messages(messages: list[dict[str, str]], proposals: Sequence[str], max_chars: int
                      ) -> list[dict[str, str]]:
    """The conversation that asks the model to rank its own ``proposals`` at the point ``messages`` reached."""
    candidates = "\n\n".join(f"({i}) {text[:max_chars]}{' ...' if len(text) > max_chars else ''}"
                             for i, text in enumerate(proposals, start=1))
    example = ", ".join(str(i) for i in [*range(2, len(proposals) + 1), 1])
    return [*messages, {"role": "user", "content": CRITIQUE_PROMPT.format(
        k=len(proposals), candidates=candidates, example=example)}]


class _TaskSearch:
    """The search of one task: its tree, the env it plays on, the saved state of every open node, and what it
    spent."""

    def __init__(self, index: int, env: gym.Env, tree: SearchTree, root_state: EnvState | None) -> None:
        self.index = index
        self.env = env
        self.tree = tree
        self.states: dict[int, EnvState] = {0: root_state} if root_state is not None else {}
        self.closed: set[int] = set()  # open episodes the search will not expand (proposals repeat, context full)
        self.steps = 0
        self.tokens = 0
        self.error: str | None = None
        self.done = root_state is None
        self.started = time.perf_counter()

    def is_open(self, node: TreeNode, max_depth: int) -> bool:
        return not node.terminal and node.depth < max_depth and node.id not in self.closed


class TreeSearch:
    """MCTS over env states with a policy's proposals, its self-critique and the env's rewards (module docstring).

    >>> search = TreeSearch(policy, TreeSearchConfig(k=4, env_steps=8))       # doctest: +SKIP
    >>> results = search.run(envs, tasks, seed=0)                              # doctest: +SKIP
    >>> append_trees("trees.jsonl", [r.tree for r in results])                # doctest: +SKIP

    ``envs``: selfgym envs (wrapped or not), as many as tasks are searched at once; they may share a sandbox pool.
    """

    def __init__(self, policy: Policy, config: TreeSearchConfig | None = None) -> None:
        self.policy = policy
        self.config = config or TreeSearchConfig()

    # --- the loop: every task's search in lockstep, a chunk of len(envs) tasks at a time ---------------------------
    def run(self, envs: Sequence[gym.Env], tasks: Sequence[Task], *, seed: int = 0) -> list[SearchResult]:
        """One search per task, ``len(envs)`` at once; results in task order. ``seed`` makes the search
        reproducible (the proposals' sampling seeds derive from it, the chunk and the round)."""
        if not envs:
            raise ValueError("TreeSearch.run needs at least one env")
        results: list[SearchResult] = []
        with ThreadPoolExecutor(max_workers=len(envs)) as threads:
            for start in range(0, len(tasks), len(envs)):
                chunk = list(tasks[start:start + len(envs)])
                searches = list(threads.map(lambda i: self._begin(start + i, envs[i], chunk[i], seed),
                                            range(len(chunk))))
                for number in range(10 * self.config.env_steps + 10):  # each round steps or closes a node
                    active = [s for s in searches if not s.done]
                    if not active:
                        break
                    self._round(active, threads, seed=seed * 1_000_003 + start * 1009 + number)
                    log.info("tree search, tasks %d-%d, round %d: %d searching, %d env steps spent", start,
                             start + len(chunk) - 1, number + 1, len(active), sum(s.steps for s in searches))
                results += [self._result(s) for s in searches]
        return results

    def _begin(self, index: int, env: gym.Env, task: Task, seed: int) -> _TaskSearch:
        config = self.config
        prefix = [{"role": "system", "content": config.system_prompt}] if config.system_prompt else []
        meta = {"env": env.spec.id if env.spec is not None else type(env.unwrapped).__name__, "index": index,
                "config": {k: v for k, v in vars(config).items() if k != "system_prompt"}}
        try:
            observation, _ = env.reset(seed=seed, options={"task": task})
            state = env.unwrapped.clone_state()
        except InfrastructureError as exc:
            search = _TaskSearch(index, env, SearchTree.start(task, prefix, "", seed=seed, meta=meta), None)
            search.error = str(exc)
            return search
        self.policy.expect(env_class_of(env), env.unwrapped.task)
        prefix.append({"role": "user", "content": observation})
        return _TaskSearch(index, env, SearchTree.start(task, prefix, observation, seed=seed, meta=meta), state)

    def _round(self, active: list[_TaskSearch], threads: ThreadPoolExecutor, *, seed: int) -> None:
        """One select / expand / evaluate / back-up round of every active search."""
        config = self.config
        leaves: list[tuple[_TaskSearch, int, int]] = []  # (search, node to expand, proposals it may play)
        for search in active:
            node = self._select(search)
            room = config.env_steps - search.steps
            over_tokens = config.tokens is not None and search.tokens >= config.tokens
            if node is None or room <= 0 or over_tokens:
                search.done = True
                continue
            leaves.append((search, node, min(config.k, room)))
        if not leaves:
            return
        # expand: the proposals of every task's node in one batch, sampled (and one greedy batch for the greedy
        # proposals of nodes expanded for the first time)
        greedy = [int(config.greedy and not search.tree.nodes[node].children) for search, node, _ in leaves]
        sampled = [search.tree.messages(node) for (search, node, n), g in zip(leaves, greedy) for _ in range(n - g)]
        sampling = Sampling(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                            top_p=config.top_p, seed=seed)
        replies = iter(fitting_replies(self.policy, sampled, sampling))
        firsts = iter(fitting_replies(self.policy, [search.tree.messages(node) for (search, node, _), g
                                                    in zip(leaves, greedy) if g],
                                      Sampling(max_new_tokens=config.max_new_tokens, temperature=0.0)))
        proposals = [[next(firsts) for _ in range(g)] + [next(replies) for _ in range(n - g)]
                     for (_, _, n), g in zip(leaves, greedy)]
        priors = self._critique(leaves, proposals)
        played = list(threads.map(lambda job: self._expand(*job), [
            (search, node, props, prior) for (search, node, _), props, prior in zip(leaves, proposals, priors)]))
        rollouts: dict[tuple[int, int], list[int]] = {}
        if config.value == "rollout":
            rollouts = self._rollouts([(search, child) for (search, _, _), children in zip(leaves, played)
                                       for child in children], threads, seed=seed)
        for (search, node, _), children in zip(leaves, played):
            for child in children:
                self._back_up(search, child, rollouts.get((search.index, child), ()))
            if config.commit == "reward" and config.stop_on_success and any(n.success for n in search.tree.nodes):
                search.done = True

    # --- the four steps of a round --------------------------------------------------------------------------------
    def _select(self, search: _TaskSearch) -> int | None:
        """The node to expand by PUCT through open children; None when no open node is left."""
        tree, config = search.tree, self.config
        node = tree.root
        if not search.is_open(node, config.max_depth):
            return None
        while True:
            children = [tree.nodes[c] for c in node.children]
            open_children = [c for c in children if search.is_open(c, config.max_depth)]
            if not open_children:
                return node.id  # a leaf, or a node whose branches all ended: widened

            def puct(child: TreeNode) -> float:
                return child.value + config.c_puct * child.prior * math.sqrt(node.visits) / (1 + child.visits)

            node = max(open_children, key=puct)  # ties: the earliest child (max keeps the first)

    def _critique(self, leaves: list[tuple[_TaskSearch, int, int]],
                  proposals: list[list[Completion | None]]) -> list[list[float]]:
        """The priors of each node's proposals: the model's own ranking (one greedy batch), else uniform."""
        uniform = [[1.0 / len(props)] * len(props) for props in proposals]
        if not self.config.critique:
            return uniform
        asks = [(i, critique_messages(search.tree.messages(node), [c.text if c else "" for c in proposals[i]],
                                      self.config.max_candidate_chars))
                for i, (search, node, _) in enumerate(leaves) if len(proposals[i]) > 1]
        sampling = Sampling(max_new_tokens=self.config.critique_max_new_tokens, temperature=0.0)
        answers = fitting_replies(self.policy, [messages for _, messages in asks], sampling)
        priors = list(uniform)
        for (i, _), answer in zip(asks, answers, strict=True):
            search, node, _ = leaves[i]
            if answer is None:
                continue
            search.tokens += answer.prompt_tokens + answer.completion_tokens
            parsed = parse_ranking(answer.text, len(proposals[i]))
            search.tree.nodes[node].meta.setdefault("critiques", []).append(
                {"text": answer.text, "parsed": parsed is not None})
            if parsed is not None:
                priors[i] = parsed
        return priors

    def _expand(self, search: _TaskSearch, node_id: int, proposals: list[Completion | None],
                priors: list[float]) -> list[int]:
        """Play each proposal from ``node_id``'s state (in this task's thread); the new children's ids."""
        tree = search.tree
        seen = {tree.nodes[c].action for c in tree.nodes[node_id].children}
        children: list[int] = []
        for completion, prior in zip(proposals, priors):
            if completion is None:  # the conversation outgrew the model: this episode cannot go on
                search.closed.add(node_id)
                break
            search.tokens += completion.prompt_tokens + completion.completion_tokens
            if completion.text in seen:
                continue
            seen.add(completion.text)
            child = self._play(search, node_id, completion, prior)
            if child is None:
                break
            children.append(child)
        if not children and search.error is None:
            search.closed.add(node_id)  # every proposal repeated a sibling: the model offers nothing new here
        return children

    def _play(self, search: _TaskSearch, node_id: int, completion: Completion, prior: float,
              meta: dict[str, Any] | None = None) -> int | None:
        """One env step of ``completion`` from ``node_id``'s saved state: the child's id, or None when the budget
        is spent or the infrastructure lost the branch ``infra_replays + 1`` times (the search then has ``error``)."""
        if search.steps >= self.config.env_steps or search.error is not None:
            return None
        losses = []
        for _ in range(self.config.infra_replays + 1):
            started = time.perf_counter()
            try:
                observation, reward, ended, _, state = step_from(search.env, search.states[node_id], completion.text)
            except InfrastructureError as exc:
                losses.append(str(exc))
                continue
            search.steps += 1
            success = ended and reward >= 1.0
            child = search.tree.add_child(node_id, completion.text, observation, reward, ended, success,
                                          prior=prior, meta={
                                              "prompt_tokens": completion.prompt_tokens,
                                              "completion_tokens": completion.completion_tokens,
                                              "generation_s": completion.seconds,
                                              "env_s": time.perf_counter() - started,
                                              **({"infra_errors": losses} if losses else {}), **(meta or {})})
            if state is not None:
                search.states[child.id] = state
            return child.id
        search.error = f"the branch at node {node_id} was lost {len(losses)} times: {losses[-1]}"
        search.tree.meta.setdefault("infra_errors", []).extend(losses)
        search.done = True
        return None

    def _rollouts(self, starts: list[tuple[_TaskSearch, int]], threads: ThreadPoolExecutor, *,
                  seed: int) -> dict[tuple[int, int], list[int]]:
        """Play on from each open new child to its episode's end (or the budget), one batched generation per turn;
        each step is a node of the tree (prior 1, meta ``rollout``). Returns the nodes each rollout added, by
        (task, child)."""
        config = self.config
        chains = {(search.index, child): [] for search, child in starts}
        reached = {(search.index, child): child for search, child in starts}
        searches = {search.index: search for search, _ in starts}
        for turn in range(config.max_depth):
            live = [key for key, node in reached.items()
                    if search_can_play(searches[key[0]], searches[key[0]].tree.nodes[node], config)]
            if not live:
                break
            sampling = Sampling(max_new_tokens=config.max_new_tokens, temperature=config.rollout_temperature,
                                top_p=config.top_p, seed=seed + turn)
            replies = fitting_replies(self.policy, [searches[key[0]].tree.messages(reached[key]) for key in live],
                                      sampling)
            by_search: dict[int, list[tuple[tuple[int, int], Completion | None]]] = {}
            for key, reply in zip(live, replies, strict=True):
                by_search.setdefault(key[0], []).append((key, reply))

            def play_all(pairs: list[tuple[tuple[int, int], Completion | None]]) -> None:
                for key, reply in pairs:  # one task's rollouts, in turn, on its env
                    search = searches[key[0]]
                    if reply is None:
                        search.closed.add(reached[key])
                        continue
                    search.tokens += reply.prompt_tokens + reply.completion_tokens
                    node = self._play(search, reached[key], reply, 1.0, {"rollout": True})
                    if node is not None:
                        reached[key] = node
                        chains[key].append(node)

            list(threads.map(play_all, by_search.values()))
        return chains

    def _back_up(self, search: _TaskSearch, child_id: int, rollout: Sequence[int] = ()) -> None:
        """Add the new node's value along its path to the root; a rollout's own nodes get their returns."""
        tree, config = search.tree, self.config
        child = tree.nodes[child_id]
        if child.terminal or config.value == "reward":
            value = child.reward
        elif config.value == "critique":
            value = child.prior
        else:  # the return of the rollout from the child: the rewards it met to the episode's end
            value = child.reward + sum(tree.nodes[n].reward for n in rollout)
        for position, node_id in enumerate(rollout):
            tree.nodes[node_id].visits += 1
            tree.nodes[node_id].value_sum += sum(tree.nodes[n].reward for n in rollout[position:])
        for node in tree.path(child_id):
            node.visits += 1
            node.value_sum += value

    # --- what the search commits to -------------------------------------------------------------------------------
    def _result(self, search: _TaskSearch) -> SearchResult:
        tree = search.tree
        committed = self.committed_node(tree)
        tree.meta.update(env_steps=search.steps, tokens=search.tokens, committed=committed,
                         seconds=round(time.perf_counter() - search.started, 3))
        if search.error is not None:
            tree.meta["error"] = search.error
        path = tree.path(committed)
        node = tree.nodes[committed]
        return SearchResult(tree, committed, [n.action or "" for n in path[1:]], node.success,
                            any(n.success for n in tree.nodes), search.steps, search.tokens,
                            time.perf_counter() - search.started, search.error)

    def committed_node(self, tree: SearchTree) -> int:
        """The last node of the path the search commits to (see ``commit`` of the config)."""
        if self.config.commit == "reward":
            ended = [n for n in tree.nodes if n.terminal]
            if ended:
                best = max(n.reward for n in ended)
                if best > 0:
                    return min((n for n in ended if n.reward == best), key=lambda n: (n.depth, n.id)).id
        node = tree.root
        while node.children:  # the critique's favourite at each level (the first proposal where it said nothing)
            node = max((tree.nodes[c] for c in node.children if not tree.nodes[c].meta.get("rollout")),
                       key=lambda n: n.prior, default=None) or tree.nodes[node.children[0]]
        return node.id


def search_can_play(search: _TaskSearch, node: TreeNode, config: TreeSearchConfig) -> bool:
    """Whether a rollout may take one more step from ``node``."""
    return (search.error is None and search.steps < config.env_steps and search.is_open(node, config.max_depth)
            and (config.tokens is None or search.tokens < config.tokens))


def success_rate(results: Sequence[SearchResult], *, committed: bool = True) -> float:
    """The share of tasks (errors excluded) whose committed path (or, with ``committed=False``, any branch)
    succeeded."""
    scored = [r for r in results if r.error is None]
    if not scored:
        return float("nan")
    return float(np.mean([r.success if committed else r.any_success for r in scored]))


def tree_view(tree: SearchTree, *, width: int = 60) -> Any:
    """A :class:`rich.tree.Tree` of ``tree`` for the console (``selfgym tree show``): each node's action (cut to
    ``width`` characters), the env's answer, reward, visits, value and prior; the committed path (``meta
    ["committed"]``) in bold green, successes marked."""
    from rich.markup import escape
    from rich.tree import Tree

    committed = tree.meta.get("committed")
    on_path = {n.id for n in tree.path(committed)} if isinstance(committed, int) and committed < len(tree.nodes) \
        else set()

    def cut(text: str | None) -> str:
        flat = " ".join((text or "").split())
        return escape(flat if len(flat) <= width else flat[:width - 3] + "...")

    def label(node: TreeNode) -> str:
        stats = f"N={node.visits} V={node.value:.2f} P={node.prior:.2f}"
        if node.parent is None:
            text = f"[bold]root[/] {cut(node.observation)}  [dim]{stats}[/]"
        else:
            mark = " [green]✓[/]" if node.success else (" [red]✗[/]" if node.terminal else "")
            kind = " [dim](rollout)[/]" if node.meta.get("rollout") else ""
            text = (f"#{node.id} {cut(node.action)!s} → {cut(node.observation)} [dim]r={node.reward:g} {stats}[/]"
                    f"{mark}{kind}")
        return f"[bold green]{text}[/]" if node.id in on_path else text

    spent = ", ".join(f"{key} {tree.meta[key]}" for key in ("env_steps", "tokens", "error") if key in tree.meta)
    root = Tree(f"[bold]{escape(tree.task.family)}/{escape(tree.task.id)}[/] ({len(tree.nodes)} nodes; {spent})")

    def add(branch: Any, node: TreeNode) -> None:
        for child in node.children:
            add(branch.add(label(tree.nodes[child])), tree.nodes[child])

    add(root.add(label(tree.root)), tree.root)
    return root
