"""TreeSearch (Agent Q / ReST-MCTS*): MCTS over forks of real Math-v0 and Shell-v0 episodes.

What must hold: a right answer that a sibling of the greedy first proposal finds is found; the env-step budget is
exact (every step of every branch counted) and the token budget stops the search; trees round-trip through JSONL
and show in the CLI; a critique that ranks nothing leaves uniform priors; the same seed gives the same tree; an
infrastructure error replays the branch or marks the task an error, never a reward of 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gymnasium as gym
import pytest
from click.testing import CliRunner

import selfgym  # noqa: F401  (registers the ids)
from selfgym.agents.policy import Completion, ScriptedPolicy
from selfgym.agents.search_tree import append_trees, read_trees
from selfgym.agents.tree_search import TreeSearch, TreeSearchConfig, parse_ranking, success_rate
from selfgym.cli import main as cli
from selfgym.envs import TaskList
from selfgym.envs.shell import tasks_from_entries
from selfgym.envs.shell_env import ShellEnv
from selfgym.envs.task import Task
from selfgym.sandbox import InfrastructureError

TASKS = [Task(f"times-{i}", "custom", f"What is {i} * 7?", data={"answer": str(i * 7)}) for i in (3, 6)]


def math_envs(n: int = 2, attempts: int = 1) -> list[gym.Env]:
    return [gym.make("selfgym/Math-v0", tasks=TaskList(TASKS, "custom"), tools=False, max_steps=attempts,
                     attempts=attempts, extraction="flexible") for _ in range(n)]


def product(messages: list[dict[str, str]]) -> int:
    first, second = re.search(r"What is (\d+) \* (\d+)", messages[1]["content"]).groups()
    return int(first) * int(second)


class Counted(ScriptedPolicy):
    """A scripted policy whose replies cost 10 completion tokens each (token budgets need a cost)."""

    def _complete(self, conversations, sampling):
        return [Completion(c.text, prompt_tokens=0, completion_tokens=10) for c in super()._complete(conversations,
                                                                                                     sampling)]


def answers(right_at: Callable[[int], bool], critique: str = "1") -> Callable:
    """Replies: the critique's ranking when asked for one; else the product, right when ``right_at(n)`` for the
    task's n-th proposal (n from 0), wrong (and different each time) otherwise."""
    made: dict[int, int] = {}

    def respond(messages):
        if "Rank them" in messages[-1]["content"]:
            return critique
        answer = product(messages)
        n = made[answer] = made.get(answer, -1) + 1
        return f"\\boxed{{{answer if right_at(n) else answer + 100 + n}}}"

    return respond


def test_a_sibling_of_the_failing_first_proposal_is_found_and_committed():
    policy = ScriptedPolicy(answers(lambda n: n == 1, critique="junk without a ranking"))
    results = TreeSearch(policy, TreeSearchConfig(k=2, env_steps=4)).run(math_envs(), TASKS, seed=0)
    for result, task in zip(results, TASKS):
        tree = result.tree
        first, second = (tree.nodes[c] for c in tree.root.children)
        assert first.terminal and first.reward == 0.0 and first.observation == "Incorrect."  # the env said so
        assert second.success and second.reward == 1.0
        assert (result.success, result.any_success, result.error) == (True, True, None)
        assert result.actions == [f"\\boxed{{{task.data['answer']}}}"] and result.committed == second.id
        assert result.env_steps == 2  # the search stops at a success it saw
        assert first.prior == second.prior == 0.5  # no ranking in the critique: uniform
        assert tree.root.meta["critiques"] == [{"text": "junk without a ranking", "parsed": False}]
        assert tree.root.visits == 2 and tree.root.value == 0.5
    # the critique's own pick (commit="prior", no verdict seen) is the first proposal here: it failed
    blind = TreeSearch(policy, TreeSearchConfig(k=2, env_steps=4, commit="prior"))
    assert [r.tree.nodes[blind.committed_node(r.tree)].success for r in results] == [False, False]


def test_the_critique_ranking_sets_priors_and_puct_follows_them_into_deeper_attempts():
    # three attempts per episode: after "Incorrect." the episode goes on, so the tree grows deeper
    policy = ScriptedPolicy(answers(lambda n: n == 3, critique="2, 1"))
    results = TreeSearch(policy, TreeSearchConfig(k=2, env_steps=8, max_depth=3)).run(
        math_envs(attempts=3), TASKS, seed=0)
    for result in results:
        tree = result.tree
        first, second = (tree.nodes[c] for c in tree.root.children)
        assert not first.terminal and first.observation.startswith("Incorrect. 2 more attempts.")
        assert second.prior == pytest.approx(2 / 3) and first.prior == pytest.approx(1 / 3)
        deeper = [tree.nodes[c] for c in second.children]  # PUCT expanded the critique's favourite
        assert [n.success for n in deeper] == [False, True] and [n.depth for n in deeper] == [2, 2]
        assert result.success and len(result.actions) == 2 and result.env_steps == 4


def test_the_env_step_budget_is_exact_and_the_token_budget_stops_the_search():
    steps = []

    class Counting(gym.Wrapper):
        def step(self, action):
            steps.append(action)
            return self.env.step(action)

    never = answers(lambda n: False)
    envs = [Counting(env) for env in math_envs(1, attempts=3)]
    [result] = TreeSearch(ScriptedPolicy(never), TreeSearchConfig(k=3, env_steps=7, max_depth=3)).run(
        envs, TASKS[:1], seed=0)
    assert result.env_steps == len(steps) == 7 and result.tree.meta["env_steps"] == 7
    assert len(result.tree.nodes) == 8 and not result.success and not result.any_success
    [result] = TreeSearch(ScriptedPolicy(never), TreeSearchConfig(k=3, env_steps=7, max_depth=3,
                                                                  value="rollout")).run(envs, TASKS[:1], seed=0)
    assert result.env_steps == 7 and any(n.meta.get("rollout") for n in result.tree.nodes)
    # tokens: each reply costs 10; checked before each round, so the search stops in the round after 25
    [result] = TreeSearch(Counted(never), TreeSearchConfig(k=2, env_steps=100, tokens=25, critique=False,
                                                           max_depth=3)).run(envs, TASKS[:1], seed=0)
    assert result.tokens == 40 and result.env_steps == 4


class GreedyKnows(ScriptedPolicy):
    """Right at temperature 0, wrong (each sample differently) when sampling; the critique always says "1"."""

    def __init__(self, greedy_right: bool = True) -> None:
        super().__init__(["unused: _complete answers"])
        self.greedy_right, self.greedy_calls, self.samples = greedy_right, 0, 0

    def _complete(self, conversations, sampling):
        replies = []
        for messages in conversations:
            if "Rank them" in messages[-1]["content"]:
                replies.append(Completion("1"))
            elif sampling.temperature == 0:
                self.greedy_calls += 1
                replies.append(Completion(f"\\boxed{{{product(messages) + (0 if self.greedy_right else 1)}}}"))
            else:
                self.samples += 1
                replies.append(Completion(f"\\boxed{{{product(messages) + 100 + self.samples}}}"))
        return replies


def test_a_greedy_proposal_keeps_the_greedy_answer_in_the_tree_and_a_widening_samples_all_k():
    plain = TreeSearch(GreedyKnows(), TreeSearchConfig(k=2, env_steps=2)).run(math_envs(), TASKS, seed=0)
    assert not any(r.any_success for r in plain)  # sampled replies only: the greedy answer is never tried
    policy = GreedyKnows()
    results = TreeSearch(policy, TreeSearchConfig(k=2, greedy=True, env_steps=2)).run(math_envs(), TASKS, seed=0)
    for result, task in zip(results, TASKS):
        first, second = (result.tree.nodes[c] for c in result.tree.root.children)
        assert first.success and first.action == f"\\boxed{{{task.data['answer']}}}" and not second.success
        assert result.success and result.actions == [first.action]
    assert policy.greedy_calls == 2 and policy.samples == 2  # one greedy and one sample per task, in two batches
    # greedy wrong too: the root's branches end, it is widened with k sampled proposals (no greedy reply again)
    wrong = GreedyKnows(greedy_right=False)
    [result] = TreeSearch(wrong, TreeSearchConfig(k=2, greedy=True, env_steps=4)).run(math_envs(1), TASKS[:1], seed=0)
    assert result.env_steps == 4 and len(result.tree.root.children) == 4 and not result.any_success
    assert wrong.greedy_calls == 1 and wrong.samples == 3
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TreeSearchConfig(k=2, greedy=True, temperature=0.0)  # the sampled proposal would be the greedy one


def test_trees_round_trip_through_jsonl_and_show_in_the_cli(tmp_path):
    results = TreeSearch(ScriptedPolicy(answers(lambda n: n == 1)), TreeSearchConfig(k=2, env_steps=4)).run(
        math_envs(), TASKS, seed=3)
    path = tmp_path / "trees.jsonl"
    append_trees(path, [r.tree for r in results])
    back = list(read_trees(path))
    assert [t.to_dict() for t in back] == [r.tree.to_dict() for r in results]
    assert back[1].meta["committed"] == results[1].committed and back[1].seed == 3
    shown = CliRunner().invoke(cli, ["tree", "show", str(path), "--index", "1"])
    assert shown.exit_code == 0, shown.output
    assert "custom/times-6" in shown.output and "\\boxed{42}" in shown.output and "✓" in shown.output
    assert "custom/times-3" not in shown.output
    wrong = CliRunner().invoke(cli, ["tree", "show", str(path), "--index", "5"])
    assert wrong.exit_code == 2 and "holds 2 trees" in wrong.output


def test_parse_ranking_reads_what_it_can_and_gives_up_on_the_rest():
    assert parse_ranking("2, 1, 3", 3) == pytest.approx([2 / 6, 3 / 6, 1 / 6])
    assert parse_ranking("The best is (3).", 3) == pytest.approx([0.5 / 4, 0.5 / 4, 3 / 4])
    assert parse_ranking("0, 7, 12", 3) is None  # no candidate's number
    assert parse_ranking("", 2) is None and parse_ranking("I cannot tell.", 2) is None
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TreeSearchConfig(k=2, temperature=0.0)
    with pytest.raises(ValueError, match="env_steps"):
        TreeSearchConfig(env_steps=0)


def test_the_same_seed_gives_the_same_tree(tmp_path):
    from tiny_models import build_tiny_chat_model

    from selfgym.agents import HFPolicy

    policy = HFPolicy(str(build_tiny_chat_model(tmp_path / "tiny")), device="cpu")
    config = TreeSearchConfig(k=2, env_steps=3, max_new_tokens=4, critique_max_new_tokens=3, max_depth=3)

    def search(seed):
        [result] = TreeSearch(policy, config).run(math_envs(1, attempts=3), TASKS[:1], seed=seed)
        return [{**n, "meta": {k: v for k, v in n["meta"].items() if not k.endswith("_s")}}  # timings differ
                for n in result.tree.to_dict()["nodes"]]

    first = search(0)
    assert len(first) > 1 and search(0) == first
    assert search(1) != first


class Flaky(gym.Wrapper):
    """Loses the sandbox on the first ``losses`` steps of the right answer (or on every step: ``losses=None``)."""

    def __init__(self, env, losses: int | None):
        super().__init__(env)
        self.losses = losses

    def step(self, action):
        if self.losses is None or (self.losses > 0 and "{42}" in action):
            self.losses = None if self.losses is None else self.losses - 1
            raise InfrastructureError("the sandbox's container vanished")
        return self.env.step(action)


def test_an_infrastructure_error_replays_the_branch_or_marks_the_task_never_a_zero_reward():
    envs = [Flaky(env, 1) for env in math_envs(1)]
    policy = ScriptedPolicy(answers(lambda n: n == 1))
    [result] = TreeSearch(policy, TreeSearchConfig(k=2, env_steps=4)).run(envs, TASKS[1:], seed=0)
    right = result.tree.nodes[result.committed]
    assert result.success and right.meta["infra_errors"] == ["the sandbox's container vanished"]
    assert result.env_steps == 2  # the lost step is the infrastructure's, not the budget's

    envs = [Flaky(env, None) for env in math_envs(1)]
    [result] = TreeSearch(policy, TreeSearchConfig(k=2, env_steps=4, infra_replays=1)).run(envs, TASKS[1:], seed=0)
    assert result.error is not None and "lost 2 times" in result.error
    assert len(result.tree.nodes) == 1 and result.tree.meta["error"] == result.error  # no node with reward 0
    assert success_rate([result]) != success_rate([result])  # NaN: an error is no result, not a failure


SHELL_TASK = tasks_from_entries([{
    "id": "make-done", "prompt": "Create the file /work/done, then submit.", "category": "files", "difficulty": 1,
    "check": "test -f /work/done", "solution": ["touch /work/done", "submit"]}], "test")[0]


@pytest.mark.docker
def test_shell_search_branches_through_sandbox_files(pool):
    calls = iter(range(100))

    def respond(messages):
        if "Rank them" in messages[-1]["content"]:
            return "1, 2"
        if len(messages) == 2:  # the first action: the first proposal makes the wrong file, its sibling the right
            return "touch /work/wrong" if next(calls) % 2 == 0 else "touch /work/done"
        return "submit"

    env = ShellEnv(pool=pool, max_steps=4)
    try:
        [result] = TreeSearch(ScriptedPolicy(respond), TreeSearchConfig(k=2, env_steps=6, max_depth=4)).run(
            [env], [SHELL_TASK], seed=0)
    finally:
        env.close()
    tree = result.tree
    wrong, right = (tree.nodes[c] for c in tree.root.children)
    assert [tree.nodes[c].reward for c in wrong.children] == [0.0]  # its files have no /work/done
    assert [tree.nodes[c].success for c in right.children] == [True]  # restored into the same env: its files
    assert result.success and result.actions == ["touch /work/done", "submit"] and result.env_steps == 4
