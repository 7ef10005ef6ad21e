"""``method: {name: tree-search}``: search a tree per task with the current policy, learn from the trees (Agent Q's
DPO on sibling pairs, ReST-MCTS*'s SFT on the successful branches)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from ...agents.search_tree import SearchTree, append_trees, read_trees
from ...agents.tree_learning import TreeLearner
from ...agents.tree_learning_config import TreeLearningConfig
from ...io import atomic_write_text
from ..progress import training_progress
from .base import Method, StepResult

TREES = "trees.jsonl"


class TreeSearchMethod(Method):
    """Each step draws ``env.parallel`` tasks from the curriculum and searches one tree per task with the current
    policy (``search: expand``, :func:`~selfgym.agents.tree_learning.expand_tree`: ``k`` sampled replies at every
    open node, played from forks of the env; ``search: mcts``, :class:`~selfgym.agents.TreeSearch`), appended to ``trees.jsonl``. A task is one episode of the budget; ``episodes.jsonl``
    logs each tree's best branch (its ``meta["tree"]`` counts the tree's nodes, leaves and successful leaves),
    and the curriculum hears the root's value (the share of the tree's leaves that succeeded). Once the trees
    since the last round cover ``train_every`` tasks, a round learns from them
    (:meth:`~selfgym.agents.tree_learning.TreeLearner.learn`) and saves ``checkpoints/round-N``, which a
    resumed run loads. The state counts the committed trees; a resume cuts ``trees.jsonl`` back to them."""

    name = "tree-search"

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trees: int = state.get("trees", 0)  # committed lines of trees.jsonl
        self.round_start: int = state.get("round_start", 0)  # the first tree of the next round
        self.rounds: int = state.get("rounds", 0)
        self.checkpoint: str | None = state.get("checkpoint")
        path = self.context.run_dir / TREES
        if path.exists():  # a kill after trees were appended, before the commit: drop them
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            if len(lines) != self.trees:
                atomic_write_text(path, "".join(lines[:self.trees]))
        method = self.config.method
        agent = self.config.agent
        # the spec is TreeLearningConfig less what the run sets (see config.TreeSearchSpec.run_sets)
        self.learner = TreeLearner(self.policy, TreeLearningConfig(
            **method.model_dump(exclude={"name", "train_every"}), sampling=agent.sampling(),
            seed=self.config.seed, **self.system_prompt_kwargs()))

    def state_dict(self) -> dict[str, Any]:
        return {"trees": self.trees, "round_start": self.round_start, "rounds": self.rounds,
                "checkpoint": self.checkpoint}

    def step(self, first: int) -> StepResult:
        config = self.learner.config
        n = min(len(self.context.envs), self.config.budget.episodes - first)
        tasks = [self.context.curriculum.next_task() for _ in range(n)]
        trees = self.learner.default_search(self.policy, self.context.envs, tasks,
                                            seed=self.config.seed * 1_000_003 + first,
                                            sampling=self.sampling_for(first))
        append_trees(self.context.run_dir / TREES, trees)
        self.trees += len(trees)
        for tree in trees:
            if tree.root.meta.get("error") is None:
                self.context.curriculum.update(tree.task, min(1.0, max(0.0, tree.root.value)))
        leaves = [leaf for tree in trees for leaf in tree.leaves()]
        metrics = {"tree_nodes": sum(len(tree.nodes) for tree in trees), "tree_leaves": len(leaves),
                   "leaf_success": sum(leaf.success for leaf in leaves) / len(leaves) if leaves else None}
        return StepResult([best_branch(tree) for tree in trees], first, n, metrics)

    def end_step(self, result: StepResult) -> None:
        if self.trees - self.round_start >= self.config.method.train_every:
            self.train_round()

    def finish(self) -> None:
        if self.trees > self.round_start:  # the trees since the last round still teach the final model
            self.train_round()

    def train_round(self) -> None:
        """Learn from the trees since the last round; a new checkpoint folder when anything was learned."""
        trees = list(islice(read_trees(self.context.run_dir / TREES), self.round_start, self.trees))
        checkpoint = self.context.run_dir / "checkpoints" / f"round-{self.rounds + 1}"

        report = self.learner.learn(trees, seed=self.config.seed + self.rounds + 1, save_to=checkpoint,
                                    progress=lambda label, per_step: training_progress(self.context.console,
                                                                                       label, per_step))
        if report.pairs or report.sft_examples:
            self.rounds += 1
            self.checkpoint = str(checkpoint)
        self.round_start = self.trees


def best_branch(tree: SearchTree):
    """The tree's path to its best leaf (a success if any, else the highest return; the first of equals) as the
    trajectory ``episodes.jsonl`` logs; lost to the infrastructure (``error``) when the root could not be set up."""
    leaves = [leaf for leaf in tree.leaves() if leaf.meta.get("error") is None] or tree.leaves()
    best = max(leaves, key=lambda leaf: (leaf.success, leaf.value))
    trajectory = tree.trajectory(best.id, {"source": "tree-search", "tree": {
        "nodes": len(tree.nodes), "leaves": len(tree.leaves()),
        "successful_leaves": sum(leaf.success for leaf in tree.leaves()), "root_value": tree.root.value}})
    trajectory.error = tree.root.meta.get("error")
    return trajectory
