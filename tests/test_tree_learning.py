"""Learning from search trees: preference pairs of siblings (values, margins, equal siblings, branches lost to the
infrastructure), the best-of-k expansion over real Math-v0 forks, a DPO round (TRL, LoRA) on a tiny real model
raising the chosen-over-rejected margin, STaR on the successful branches only, and the ``tree-search`` YAML
method run against real Math-v0, killed and resumed."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the envs
from experiment_runs import experiment
from selfgym.agents import tree_learning
from selfgym.agents.hf import HFPolicy
from selfgym.agents.policy import ScriptedPolicy
from selfgym.agents.search_tree import SearchTree, append_trees, read_trees
from selfgym.agents.tree_learning import (TreeLearner, TreeLearningConfig, back_up, best_branches, expand_tree,
                                          preference_margin, preference_pairs)
from selfgym.envs import Task, TaskList, TextEnv, Turn
from selfgym.sandbox import InfrastructureError

RIGHT, WRONG = "The answer is 5.", "cat notes"


class SumEnv(TextEnv):
    """Two replies at most; "The answer is 5." is right, a reply with "?" asks again (the episode goes on), any
    other reply is wrong, and "crash" stands for a sandbox lost for good (the infrastructure's failure)."""

    uses_sandbox = False

    def __init__(self):
        super().__init__(TaskList([Task(f"sum{i}", "sum", "What is 2+3?") for i in range(2)], "sum"), max_steps=2)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        if action == "crash":
            raise InfrastructureError("the sandbox was lost three times")
        if "?" in action:
            return Turn("Go on.", 0.0, False)
        right = action.strip() == RIGHT
        return Turn("Correct." if right else "Incorrect.", float(right), True)


def hand_built_tree() -> SearchTree:
    """root -> right (1), wrong (0), other wrong (0), lost (an infrastructure error, reward 1 never counted),
    asks (goes on) -> right (1), wrong (0)."""
    tree = SearchTree.start(Task("t", "sum", "What is 2+3?"), [{"role": "user", "content": "What is 2+3?"}],
                            "What is 2+3?")
    tree.add_child(0, RIGHT, "Correct.", 1.0, True, True)
    tree.add_child(0, WRONG, "Incorrect.", 0.0, True, False)
    tree.add_child(0, "ls -la", "Incorrect.", 0.0, True, False)
    tree.add_child(0, "lost", "", 1.0, True, True, meta={"error": "sandbox lost"})
    asks = tree.add_child(0, "what?", "Go on.", 0.0, False, False)
    tree.add_child(asks.id, RIGHT, "Correct.", 1.0, True, True)
    tree.add_child(asks.id, WRONG, "Incorrect.", 0.0, True, False)
    back_up(tree)
    return tree


def test_pairs_from_a_hand_built_tree(tmp_path):
    tree = hand_built_tree()
    assert (tree.root.visits, tree.root.value) == (5, pytest.approx(2 / 5))  # the lost branch is no leaf return
    assert tree.nodes[5].value == 0.5  # "what?": one right and one wrong answer below it
    pairs = preference_pairs(tree, min_margin=0.5)
    found = {(p.node, p.chosen, p.rejected): p.margin for p in pairs}
    assert found == {(0, RIGHT, WRONG): 1.0, (0, RIGHT, "ls -la"): 1.0, (0, RIGHT, "what?"): 0.5,
                     (0, "what?", WRONG): 0.5, (0, "what?", "ls -la"): 0.5, (5, RIGHT, WRONG): 1.0}
    # no pair of the two equal wrong siblings, none with the branch lost to the infrastructure
    assert not any({p.chosen, p.rejected} in ({WRONG, "ls -la"},) or "lost" in (p.chosen, p.rejected) for p in pairs)
    deep, = [p for p in pairs if p.node == 5]
    assert deep.prompt == tree.messages(5) and deep.prompt[-1] == {"role": "user", "content": "Go on."}
    assert deep.example()["chosen"] == [{"role": "assistant", "content": RIGHT}]
    assert {(p.node, p.margin) for p in preference_pairs(tree, min_margin=0.75)} == {(0, 1.0), (5, 1.0)}
    assert len(preference_pairs(tree, min_margin=0.0)) == len(pairs)  # equal siblings never pair, even at 0
    assert [p.margin for p in preference_pairs(tree, 0.5, max_pairs_per_node=2) if p.node == 0] == [1.0, 1.0]
    append_trees(tmp_path / "trees.jsonl", [tree])
    again, = read_trees(tmp_path / "trees.jsonl")
    assert preference_pairs(again, 0.5) == pairs
    # ReST-MCTS*'s branches: the two paths that ended right (not the lost one, whose reward nobody verified)
    assert [[s.action for s in b.steps] for b in best_branches(tree)] == [[RIGHT], ["what?", RIGHT]]
    with pytest.raises(ValueError, match="min_margin"):
        preference_pairs(tree, min_margin=-1)


def test_expand_tree_plays_every_branch_from_a_math_fork():
    # k = 3 replies at every node, on 2 envs (fewer than the branches): a malformed reply leaves the episode open
    policy = ScriptedPolicy(["let me think", "\\boxed{5}", "\\boxed{4}"], cycle=True)
    envs = [gym.make("selfgym/Math-v0", max_steps=2, tools=False) for _ in range(2)]
    tasks = [Task(f"sum{i}", "sum", f"What is {i}+5?", data={"answer": str(i + 5)}) for i in range(2)]
    tree, other = expand_tree(policy, envs, tasks, k=3, seed=0)
    assert [n.depth for n in tree.nodes] == [0, 1, 1, 1, 2, 2, 2]
    assert [(n.action, n.reward, n.terminal) for n in tree.nodes[1:4]] == [
        ("let me think", 0.0, False), ("\\boxed{5}", 1.0, True), ("\\boxed{4}", 0.0, True)]
    # the second reply is the last (max_steps=2): a malformed one ends the episode there too
    assert [(n.observation.split()[0], n.reward, n.terminal) for n in tree.nodes[4:]] == [
        ("Your", 0.0, True), ("Correct.", 1.0, True), ("Incorrect.", 0.0, True)]
    assert tree.root.value == pytest.approx(2 / 5) and tree.nodes[1].value == pytest.approx(1 / 3)
    assert other.task.id == "sum1" and other.root.value == 0.0  # 5 is wrong for 1+5
    # a branch from a fork is the episode played from scratch: same observations, same rewards
    leaf = tree.nodes[5]
    fresh = envs[0]
    fresh.reset(options={"task": tasks[0]})
    replay = [fresh.step(action)[:2] for action in ("let me think", leaf.action)]
    assert replay == [(n.observation, n.reward) for n in tree.path(leaf.id)[1:]]
    assert tree.trajectory(leaf.id).messages == tree.messages(leaf.id)
    for env in envs:
        env.close()


def test_branches_lost_to_the_infrastructure_have_no_value():
    policy = ScriptedPolicy([RIGHT, "crash", WRONG, "what?"], cycle=True)
    tree, = expand_tree(policy, [SumEnv()], [Task("sum0", "sum", "What is 2+3?")], k=4, seed=0)
    crashed = tree.nodes[2]
    assert crashed.meta["error"] == "the sandbox was lost three times" and crashed.visits == 0
    assert all("crash" not in (p.chosen, p.rejected) for p in preference_pairs(tree, 0.5))
    # "what?" goes on to right, crash, wrong, "what?" (truncated): 3 returns backed up, the crash none
    asks = tree.nodes[4]
    assert (asks.visits, asks.value) == (3, pytest.approx(1 / 3)) and tree.root.visits == 5
    assert {(p.node, p.chosen, p.rejected) for p in preference_pairs(tree, 0.5)} == {
        (0, RIGHT, WRONG), (0, RIGHT, "what?"), (4, RIGHT, WRONG), (4, RIGHT, "what?")}


def test_the_mcts_search_gives_trees_pairs_are_made_from(tiny_path):
    # search: mcts plays TreeSearch within env_steps a task; its trees are what DPO and STaR learn from
    script = ScriptedPolicy([RIGHT, WRONG], cycle=True)  # proposals and critiques alike
    learner = TreeLearner(HFPolicy(tiny_path), TreeLearningConfig(search="mcts", k=2, env_steps=3))
    envs, tasks = [SumEnv(), SumEnv()], list(SumEnv().source)
    trees = learner.default_search(script, envs, tasks, seed=0)
    assert [tree.task.id for tree in trees] == ["sum0", "sum1"]
    for tree in trees:
        assert tree.meta["config"]["env_steps"] == 3 and 1 <= len(tree.nodes) - 1 <= 3
        assert {(p.chosen, p.rejected) for p in preference_pairs(tree, 0.5)} == {(RIGHT, WRONG)}
        assert [len(b.steps) for b in best_branches(tree)] == [1]
        assert tree.meta["config"]["greedy"] is False
    greedy = TreeLearner(HFPolicy(tiny_path), TreeLearningConfig(search="mcts", k=2, env_steps=3, greedy=True))
    assert all(tree.meta["config"]["greedy"] for tree in greedy.default_search(script, envs, tasks, seed=0))


def test_dpo_rounds_raise_the_chosen_over_rejected_margin(tiny_path, torch_one_thread, tmp_path):
    script = ScriptedPolicy([RIGHT, WRONG], cycle=True)  # the search's replies; the tiny model is trained

    def search(policy, envs, tasks, seed):
        return expand_tree(script, envs, tasks, k=2, seed=seed)

    envs, tasks = [SumEnv(), SumEnv()], list(SumEnv().source)
    pairs = [p for tree in search(None, envs, tasks, 0) for p in preference_pairs(tree)]
    assert len(pairs) == 2 and all((p.chosen, p.rejected) == (RIGHT, WRONG) for p in pairs)
    policy = HFPolicy(tiny_path)
    before = preference_margin(policy, pairs)
    config = TreeLearningConfig(objective="dpo", rounds=2, dpo_learning_rate=1e-3, dpo_epochs=2, batch_size=2,
                                output_dir=str(tmp_path))
    reports = TreeLearner(policy, config, search=search).run(envs, tasks)
    assert [(r.round, r.pairs, r.sft_examples) for r in reports] == [(1, 2, 0), (2, 2, 0)]
    assert all(r.dpo_loss > 0 for r in reports)
    assert preference_margin(policy, pairs) > before + 5.0
    assert not hasattr(policy.model, "peft_config")  # the adapter was merged into the policy's weights
    assert len(list(read_trees(tmp_path / "trees.jsonl"))) == 4  # each round's trees
    reloaded = HFPolicy(tmp_path / "round-2")
    assert preference_margin(reloaded, pairs) == pytest.approx(preference_margin(policy, pairs), abs=1e-3)


def test_star_on_best_branches_learns_only_the_successes(tiny_path, torch_one_thread, monkeypatch):
    search = ScriptedPolicy([RIGHT, WRONG, "what?"], cycle=True)
    trees = expand_tree(search, [SumEnv()], [Task("sum0", "sum", "What is 2+3?")], k=3, seed=0)
    learned = []
    real_finetune = tree_learning.finetune
    monkeypatch.setattr(tree_learning, "finetune", lambda policy, examples, config, **kw: (
        learned.extend(examples), real_finetune(policy, examples, config, **kw))[1])
    policy = HFPolicy(tiny_path)
    report = TreeLearner(policy, TreeLearningConfig(objective="star", epochs=1)).learn(trees, seed=0)
    # right at once, and "what?" then right: 3 assistant turns; no wrong answer is learned
    assert (report.branches, report.sft_examples, report.pairs) == (2, 3, 0)
    assert [e["completion"][0]["content"] for e in learned] == [RIGHT, "what?", RIGHT]
    assert learned[2]["prompt"][-1] == {"role": "user", "content": "Go on."}


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs."""


def test_tree_search_experiment_runs_and_resumes(tmp_path, tiny_path, monkeypatch):
    from rich.console import Console

    from selfgym.experiments import ExperimentRunner, load_experiment
    from selfgym.experiments.methods.tree_search import TreeSearchMethod as TreeSearch

    def run(path, run_dir=None):
        return ExperimentRunner(load_experiment(path), run_dir, console=Console(quiet=True)).run()

    path = experiment(tmp_path, tiny_path, name="trees", budget={"episodes": 6}, eval={"tasks": 1},
                      env={"id": "selfgym/Math-v0", "kwargs": {"max_steps": 2, "tools": False},
                           "families": [{"name": "basic_arithmetic", "levels": 1}], "parallel": 2},
                      method={"name": "tree-search", "objective": "both", "k": 2, "train_every": 4})
    run_dir = tmp_path / "runs" / "trees"
    steps = []
    end_step = TreeSearch.end_step

    def killed_in_the_second_step(self, result):  # its trees are written, the state not yet committed
        steps.append(result.first)
        if len(steps) == 2:
            raise Killed
        end_step(self, result)

    monkeypatch.setattr(TreeSearch, "end_step", killed_in_the_second_step)
    with pytest.raises(Killed):
        run(path)
    assert len(list(read_trees(run_dir / "trees.jsonl"))) == 4  # two steps' trees, one step committed
    monkeypatch.setattr(TreeSearch, "end_step", end_step)
    assert ExperimentRunner.resume(run_dir, Console(quiet=True)).run()["episodes"] == 6
    run(path, tmp_path / "straight")
    trees = list(read_trees(run_dir / "trees.jsonl"))
    straight = list(read_trees(tmp_path / "straight" / "trees.jsonl"))
    episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert [e["episode"] for e in episodes] == list(range(6))
    assert [t.task.id for t in trees] == [e["task"]["id"] for e in episodes] == [t.task.id for t in straight]
    assert [[n.action for n in t.nodes] for t in trees] == [[n.action for n in t.nodes] for t in straight]
    assert all(len(t.root.children) == 2 and t.meta["env"] == "selfgym/Math-v0" for t in trees)
    assert all(e["meta"]["tree"]["nodes"] == len(t.nodes) for e, t in zip(episodes, trees, strict=True))
    state = json.loads((run_dir / "state.json").read_text())
    assert (state["episodes"], state["method"]["trees"], state["method"]["round_start"]) == (6, 6, 6)


def test_a_greedy_tree_search_is_refused_when_the_file_is_read(tmp_path):
    from selfgym.experiments.config import ConfigError, load_experiment

    path = tmp_path / "x.yaml"
    path.write_text("name: x\nagent: {temperature: 0}\nmethod: {name: tree-search, k: 4, min_margn: 1}\n")
    with pytest.raises(ConfigError, match=r"method.min_margn: unknown key \(did you mean 'min_margin'\?\)"):
        load_experiment(path)
    path.write_text("name: x\nagent: {temperature: 0}\nmethod: {name: tree-search, k: 4}\n")
    with pytest.raises(ConfigError, match="agent.temperature: must be > 0 for method tree-search with k > 1"):
        load_experiment(path)
