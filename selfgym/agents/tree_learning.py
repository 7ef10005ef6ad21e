"""Learning from search trees: DPO on preference pairs of sibling branches (Agent Q, Putta et al., 2024) and
fine-tuning on the successful branches (ReST-MCTS*, Zhang et al., 2024).

One round of :class:`TreeLearner`, top to bottom:
1. ``search``: a :class:`~selfgym.agents.search_tree.SearchTree` per training task, searched with the current
   policy. The default is :func:`expand_tree`, a best-of-k tree expansion (``k`` sampled replies at every node,
   each played from a restored fork of the env); any search that returns trees plugs in (``search=``: an MCTS).
2. ``preference_pairs``: at every node whose children's values (the means of the env's rewards backed up through
   them) differ by at least ``min_margin``, the better child's reply is *chosen* and the worse one's *rejected*,
   the prompt being the conversation at that node: Agent Q's step-level pairs.
3. ``best_branches``: the root-to-leaf paths that ended in success, as trajectories; STaR's ``sft_examples`` and
   ``finetune`` (the SFT path of :mod:`selfgym.agents.self_training`) learn them.
4. ``dpo_finetune``: LoRA (peft) through TRL's ``DPOTrainer``; the reference is the policy before the round (the
   model with its adapter off), and the adapter is merged into the policy's weights. Rounds repeat with the new
   policy searching (Agent Q's iterated off-policy DPO).

Every value comes from the env's verifier: a branch lost to the infrastructure (``meta["error"]``) has none and
is in no pair; the policy's text is never read for a reward.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ..envs.forks import EnvState, step_from
from ..envs.task import Task
from ..sandbox import InfrastructureError
from .hf import HFPolicy
from .policy import Completion, Policy, Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT, env_class_of, fitting_replies
from .search_tree import SearchTree, TreeNode, append_trees
from .self_training import (finetune, lora_config, progress_callback, save_checkpoint, sft_examples,
                            train_and_merge)
from .trajectory import Trajectory
from .tree_learning_config import TreeLearningConfig

log = logging.getLogger(__name__)

Search = Callable[[Policy, Sequence[gym.Env], Sequence[Task], int], list[SearchTree]]
"""``search(policy, envs, tasks, seed) -> trees``: one searched tree per task, in order (e.g. a partial of
:func:`expand_tree`, or an MCTS agent's results' ``.tree``)."""


# --- the default search: best-of-k tree expansion --------------------------------------------------------------
def expand_tree(policy: Policy, envs: Sequence[gym.Env], tasks: Sequence[Task], *, k: int = 4, seed: int = 0,
                sampling: Sampling | None = None, max_depth: int | None = None,
                system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> list[SearchTree]:
    """The simple search learning from trees defaults to: from each task's first observation, sample ``k`` replies
    at every node that has not ended, play each from the node's saved env state (``clone_state`` /
    ``restore_state`` into one of ``envs``, which may be fewer than the nodes), and go on until every branch has
    ended (the env's ``max_steps`` bounds the depth) or ``max_depth`` steps were played. A level's replies are
    generated in one batch (``k`` × the open nodes of every task); env steps run in threads, one per env.

    Back-up: each leaf's return (the sum of the env's rewards on its path) is added to every node on its path
    (``visits`` += 1, ``value_sum`` += return), so a node's ``value`` is the mean return of the leaves below it.
    A branch lost to the infrastructure (its env raised :class:`~selfgym.sandbox.InfrastructureError`) is kept
    with ``meta["error"]`` and no value; a conversation too long for the model ends its branch
    (``meta["stopped"]``). Tree size: at most ``k + k² + ... + k^depth`` nodes per task.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not envs:
        raise ValueError("expand_tree needs at least one env")
    sampling = sampling or Sampling(max_new_tokens=256, temperature=0.8, top_p=0.95)
    env_class = env_class_of(envs[0])
    env_id = getattr(getattr(envs[0], "spec", None), "id", None)
    trees: list[SearchTree] = []
    frontier: list[tuple[SearchTree, int, EnvState]] = []
    with ThreadPoolExecutor(max_workers=len(envs)) as threads:
        for start in range(0, len(tasks), len(envs)):  # the roots: each task's first observation, saved
            chunk = tasks[start:start + len(envs)]
            for tree, state in threads.map(lambda pair: _root(*pair, seed=seed, system_prompt=system_prompt),
                                           zip(envs, chunk)):
                tree.meta.update(env=env_id, search="expand", k=k)
                trees.append(tree)
                if state is not None:
                    frontier.append((tree, 0, state))
        for task in tasks:
            policy.expect(env_class, task)
        depth = 0
        while frontier and (max_depth is None or depth < max_depth):
            conversations = [tree.messages(node) for tree, node, _ in frontier for _ in range(k)]
            replies = fitting_replies(policy, conversations, dataclasses.replace(sampling, seed=seed * 1_000 + depth))
            jobs = [(frontier[i // k], reply) for i, reply in enumerate(replies)]
            for (tree, node, _), reply in zip(frontier, replies[::k], strict=True):  # a node's k share one prompt
                if reply is None:  # the conversation no longer fits the model: the branch ends here
                    tree.nodes[node].meta["stopped"] = "context length"
            jobs = [(parent, reply) for parent, reply in jobs if reply is not None]
            frontier = []
            for start in range(0, len(jobs), len(envs)):
                chunk = jobs[start:start + len(envs)]
                for (parent, reply), played in zip(chunk, threads.map(_play, envs, chunk), strict=True):
                    tree, node_id, _ = parent
                    observation, reward, terminal, info, state, error = played
                    child = tree.add_child(node_id, reply.text, observation, reward, terminal,
                                           terminal and reward >= 1.0 and error is None, prior=1.0 / k, meta={
                                               "prompt_tokens": reply.prompt_tokens,
                                               "completion_tokens": reply.completion_tokens,
                                               **({"error": error} if error is not None else {}),
                                               **({"info": _small(info)} if info else {})})
                    if state is not None and not terminal and error is None:
                        frontier.append((tree, child.id, state))
            depth += 1
    for tree in trees:
        back_up(tree)
        tree.meta.update(nodes=len(tree.nodes), completion_tokens=sum(
            int(n.meta.get("completion_tokens", 0)) for n in tree.nodes))
    return trees


def _root(env: gym.Env, task: Task, *, seed: int, system_prompt: str | None) -> tuple[SearchTree, EnvState | None]:
    prefix = [{"role": "system", "content": system_prompt}] if system_prompt else []
    try:
        observation, _ = env.reset(seed=seed, options={"task": task})
        state = env.unwrapped.clone_state()
    except InfrastructureError as exc:  # no root to search from: a tree of one node, marked
        tree = SearchTree.start(task, prefix + [{"role": "user", "content": task.prompt}], task.prompt, seed=seed)
        tree.root.meta["error"] = str(exc)
        return tree, None
    return SearchTree.start(task, prefix + [{"role": "user", "content": observation}], observation, seed=seed), state


def _play(env: gym.Env, job: tuple[tuple[SearchTree, int, EnvState], Completion]
          ) -> tuple[str, float, bool, dict[str, Any], EnvState | None, str | None]:
    """The reply of ``job`` played from its parent's state in ``env``: (observation, reward, ended, info, the
    state after it or None when it ended, the infrastructure error or None)."""
    (_, _, state), reply = job
    try:
        return (*step_from(env, state, reply.text), None)
    except InfrastructureError as exc:
        return "", 0.0, True, {}, None, str(exc)


def _small(info: dict[str, Any]) -> dict[str, Any]:
    """The verifier's verdict of a step, for reading the tree (not its whole ``info``)."""
    keys = ("correct", "extracted", "expected", "malformed", "error", "score")
    return {key: info[key] for key in keys if key in info and isinstance(info[key], (bool, int, float, str, type(None)))}


def back_up(tree: SearchTree) -> None:
    """Set every node's ``visits`` and ``value_sum`` from the leaves below it: each leaf that was played (not lost
    to the infrastructure) adds its return, the sum of the env's rewards from the root to it."""
    for node in tree.nodes:
        node.visits, node.value_sum = 0, 0.0
    for leaf in tree.leaves():
        if leaf.meta.get("error") is not None:
            continue
        path = tree.path(leaf.id)
        episode_return = sum(node.reward for node in path[1:])
        for node in path:
            node.visits += 1
            node.value_sum += episode_return


# --- what the trees teach ----------------------------------------------------------------------------------------
def branch_value(node: TreeNode) -> float | None:
    """A child's worth to its parent: the mean return backed up through it, or the env's reward of a node that
    ended and was never backed up (a hand-built tree); None for a branch lost to the infrastructure or not played
    to an end."""
    if node.meta.get("error") is not None:
        return None
    if node.visits:
        return node.value
    return node.reward if node.terminal else None


@dataclass(frozen=True)
class PreferencePair:
    """Two sibling replies to one conversation, the chosen one worth ``margin`` more (env reward units)."""

    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    margin: float
    task_id: str
    node: int  # the parent node both replies answer

    def example(self) -> dict[str, list[dict[str, str]]]:
        """TRL's conversational preference format (what ``DPOTrainer`` reads)."""
        return {"prompt": self.prompt, "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}]}


def preference_pairs(tree: SearchTree, min_margin: float = 0.5, max_pairs_per_node: int | None = None
                     ) -> list[PreferencePair]:
    """Agent Q's step-level pairs: at every node with two or more valued children (:func:`branch_value`), each
    pair of children whose values differ by at least ``min_margin`` (and by more than 0: equal siblings teach
    nothing), the better one chosen. Identical replies are never paired with each other, and each (chosen,
    rejected) text pair is taken once per node. ``max_pairs_per_node`` keeps the widest margins first."""
    if min_margin < 0:
        raise ValueError(f"min_margin must be >= 0, got {min_margin}")
    pairs = []
    for node in tree.nodes:
        if node.meta.get("error") is not None:
            continue
        valued = [(child, value) for child in (tree.nodes[i] for i in node.children)
                  if (value := branch_value(child)) is not None]
        found: dict[tuple[str, str], float] = {}
        for better, high in valued:
            for worse, low in valued:
                margin = high - low
                if margin > 0 and margin >= min_margin and better.action != worse.action:
                    key = (better.action or "", worse.action or "")
                    found[key] = max(found.get(key, 0.0), margin)
        ranked = sorted(found.items(), key=lambda item: -item[1])[:max_pairs_per_node]
        prompt = tree.messages(node.id) if ranked else []
        pairs += [PreferencePair(prompt, chosen, rejected, margin, tree.task.id, node.id)
                  for (chosen, rejected), margin in ranked]
    return pairs


def best_branches(tree: SearchTree) -> list[Trajectory]:
    """ReST-MCTS*'s training traces: every root-to-leaf path that ended in success (the env said so), as a
    :class:`Trajectory`, each distinct sequence of replies once."""
    seen, branches = set(), []
    for leaf in tree.leaves():
        if not leaf.success or leaf.meta.get("error") is not None:
            continue
        path = tree.path(leaf.id)
        if any(node.meta.get("error") is not None for node in path):
            continue
        actions = tuple(node.action for node in path[1:])
        if actions not in seen:
            seen.add(actions)
            branches.append(tree.trajectory(leaf.id, {"source": "tree"}))
    return branches


def completion_logprob(policy: HFPolicy, prompt: Sequence[dict[str, str]], completion: str) -> float:
    """log p(``completion`` | ``prompt``) under ``policy.model``: the sum over the reply's tokens as the chat
    template renders it (end-of-turn included), the way DPO scores a reply."""
    prompt_ids = policy.prompt_ids(prompt)
    full = policy.tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": completion}],
                                                tokenize=False)
    full_ids = policy.tokenizer(full, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([full_ids], device=policy.device)
    with torch.inference_mode():
        logits = policy.model(input_ids=ids).logits[0, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return float(logp[len(prompt_ids) - 1:].sum())


def preference_margin(policy: HFPolicy, pairs: Sequence[PreferencePair]) -> float:
    """The mean of log p(chosen) − log p(rejected) over ``pairs`` (what DPO raises, relative to its reference)."""
    if not pairs:
        return math.nan
    return float(np.mean([completion_logprob(policy, p.prompt, p.chosen) - completion_logprob(policy, p.prompt,
                                                                                                p.rejected)
                          for p in pairs]))


def dpo_finetune(policy: HFPolicy, pairs: Sequence[PreferencePair], config: TreeLearningConfig, *, seed: int,
                 save_to: str | Path | None = None, progress: Callable[[int, int], None] | None = None,
                 on_log: Callable[[int, int, dict[str, float]], None] | None = None) -> dict[str, float]:
    """DPO with TRL's ``DPOTrainer`` on ``pairs`` (conversational format), LoRA on every linear layer (peft), the
    reference being the policy as it was (the adapter off), merged into ``policy.model`` in place. bf16 on CUDA,
    fp32 on the CPU. Returns the final metrics (``train_loss``, ``pairs``); ``progress`` and ``on_log`` as in
    :func:`~selfgym.agents.self_training.finetune`."""
    import datasets
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if not pairs:
        return {"train_loss": float("nan"), "pairs": 0}
    datasets.disable_progress_bars()
    on_gpu = policy.device.type == "cuda"
    checkpointing = on_gpu if config.gradient_checkpointing is None else config.gradient_checkpointing
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
        args = DPOConfig(
            output_dir=str(Path("/tmp") / f"selfgym-dpo-{time.time_ns()}"),
            num_train_epochs=config.dpo_epochs, learning_rate=config.dpo_learning_rate, beta=config.beta,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps, max_length=config.max_length,
            bf16=on_gpu, use_cpu=not on_gpu, seed=seed, save_strategy="no", report_to="none", logging_steps=0.1,
            disable_tqdm=True, lr_scheduler_type="constant", gradient_checkpointing=checkpointing,
        )
    policy.model.train()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
        trainer = DPOTrainer(model=policy.model, args=args,
                             train_dataset=Dataset.from_list([pair.example() for pair in pairs]),
                             processing_class=policy.tokenizer, peft_config=lora_config(config),
                             callbacks=[progress_callback(progress, on_log)])
        result = train_and_merge(policy, trainer, save_to)
    return {"train_loss": float(result.training_loss), "pairs": len(pairs)}


# --- rounds ----------------------------------------------------------------------------------------------------------
@dataclass
class RoundReport:
    """What one round searched and learned: trees (tasks), their nodes, the trees with a successful leaf, the
    pairs and best branches taken from them, and the training losses (nan: that part did not train)."""

    round: int
    tasks: int = 0
    nodes: int = 0
    solved_trees: int = 0
    pairs: int = 0
    branches: int = 0
    sft_examples: int = 0
    sft_loss: float = float("nan")
    dpo_loss: float = float("nan")
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TreeLearner:
    """Runs ``config.rounds`` rounds of search then learning for ``policy`` (an :class:`HFPolicy`, trained in
    place): the trees' successful branches by SFT (``objective: star``), their sibling preference pairs by DPO
    (``dpo``), or SFT then DPO (``both``). ``search(policy, envs, tasks, seed)`` builds the trees (default:
    :func:`expand_tree` with ``config.k``, ``config.sampling``, ``config.max_depth``)."""

    def __init__(self, policy: HFPolicy, config: TreeLearningConfig | None = None, search: Search | None = None):
        self.policy = policy
        self.config = config or TreeLearningConfig()
        self.search = search or self.default_search
        self.reports: list[RoundReport] = []
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed)  # noqa: NPY002 - peft/trl draw from the global generators

    def default_search(self, policy: Policy, envs: Sequence[gym.Env], tasks: Sequence[Task], seed: int, *,
                       sampling: Sampling | None = None) -> list[SearchTree]:
        """The search ``config.search`` names with this config's settings: :func:`expand_tree`, or the MCTS of
        :class:`~selfgym.agents.tree_search.TreeSearch` (``k`` proposals an expansion, ``env_steps`` a task)."""
        config = self.config
        sampling = sampling or config.sampling
        if config.search == "expand":
            return expand_tree(policy, envs, tasks, k=config.k, seed=seed, sampling=sampling,
                               max_depth=config.max_depth, system_prompt=config.system_prompt)
        from .tree_search import TreeSearch, TreeSearchConfig

        mcts = TreeSearchConfig(k=config.k, greedy=config.greedy, env_steps=config.env_steps,
                                temperature=sampling.temperature, top_p=sampling.top_p,
                                max_new_tokens=sampling.max_new_tokens,
                                max_depth=config.max_depth or TreeSearchConfig.max_depth,
                                system_prompt=config.system_prompt)
        return [result.tree for result in TreeSearch(policy, mcts).run(envs, tasks, seed=seed)]

    def learn(self, trees: Sequence[SearchTree], *, seed: int, save_to: str | Path | None = None,
              progress: Callable[[str, int], AbstractContextManager[tuple[Any, Any]]] | None = None) -> RoundReport:
        """One round's learning from ``trees`` (the policy changes in place); the merged model is saved to
        ``save_to`` when anything was learned. ``progress(label, examples_per_step)``: a context manager around
        each training that gives its ``(progress, on_log)`` callbacks (as
        :func:`selfgym.experiments.progress.training_progress` does)."""
        config = self.config
        report = RoundReport(len(self.reports) + 1, len(trees), sum(len(t.nodes) for t in trees),
                             sum(any(leaf.success for leaf in t.leaves()) for t in trees))
        callbacks = progress or (lambda label, per_step: nullcontext((None, None)))
        per_step = config.batch_size * config.gradient_accumulation_steps
        trained = False
        if config.objective in ("star", "both"):
            branches = [branch for tree in trees for branch in best_branches(tree)]
            examples = sft_examples(branches)
            report.branches, report.sft_examples = len(branches), len(examples)
            if examples:
                with callbacks(f"SFT on {len(examples)} best-branch examples", per_step) as (on_step, on_log):
                    report.sft_loss = finetune(self.policy, examples, config.sft_config(), seed=seed,
                                               progress=on_step, on_log=on_log)["train_loss"]
                trained = True
        if config.objective in ("dpo", "both"):
            pairs = [pair for tree in trees
                     for pair in preference_pairs(tree, config.min_margin, config.max_pairs_per_node)]
            report.pairs = len(pairs)
            if pairs:
                with callbacks(f"DPO on {len(pairs)} preference pairs", per_step) as (on_step, on_log):
                    report.dpo_loss = dpo_finetune(self.policy, pairs, config, seed=seed, progress=on_step,
                                                   on_log=on_log)["train_loss"]
                trained = True
        if trained and save_to is not None:
            save_checkpoint(self.policy, save_to)
        return report

    def run(self, envs: Sequence[gym.Env], tasks: Sequence[Task]) -> list[RoundReport]:
        """``config.rounds`` rounds over ``tasks``: search with the current policy, then learn. With
        ``config.output_dir``, every tree is appended to ``trees.jsonl`` there and each round's model saved to
        ``round-N``."""
        config = self.config
        out = Path(config.output_dir) if config.output_dir else None
        for number in range(1, config.rounds + 1):
            start = time.perf_counter()
            seed = config.seed + 10_000 * number
            trees = self.search(self.policy, envs, tasks, seed)
            if out is not None:
                append_trees(out / "trees.jsonl", trees)
            report = self.learn(trees, seed=seed, save_to=out / f"round-{number}" if out else None)
            report.seconds = time.perf_counter() - start
            log.info("tree learning round %d: %s", number, report.as_dict())
            self.reports.append(report)
        return self.reports
