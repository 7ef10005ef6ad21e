"""The search-tree record: paths, the conversation at a node, episodes from paths, and the JSONL round trip."""

import json

import pytest

from selfgym.agents.search_tree import SearchTree, append_trees, read_trees
from selfgym.envs.task import Task


def small_tree() -> SearchTree:
    task = Task("t/1", "t", "What is 2+2?", data={"answer": "4"})
    tree = SearchTree.start(task, [{"role": "system", "content": "sys"}, {"role": "user", "content": "What is 2+2?"}],
                            "What is 2+2?", seed=3, meta={"env": "selfgym/Math-v0"})
    wrong = tree.add_child(0, "5", "Incorrect.", 0.0, False, False, prior=0.25)
    tree.add_child(0, "4", "Correct.", 1.0, True, True, prior=0.75, meta={"completion_tokens": 2})
    tree.add_child(wrong.id, "4", "Correct.", 1.0, True, True)
    return tree


def test_paths_messages_and_trajectories_follow_the_branch():
    tree = small_tree()
    assert [n.id for n in tree.path(3)] == [0, 1, 3]
    assert tree.root.children == [1, 2] and {n.id for n in tree.leaves()} == {2, 3}
    assert tree.messages(3)[2:] == [{"role": "assistant", "content": "5"}, {"role": "user", "content": "Incorrect."},
                                    {"role": "assistant", "content": "4"}, {"role": "user", "content": "Correct."}]
    episode = tree.trajectory(2)
    assert episode.success and [s.action for s in episode.steps] == ["4"] and episode.completion_tokens == 2
    assert not tree.trajectory(1).success  # a path that has not ended with full reward is no success
    assert tree.nodes[1].value == 0.0  # no visits yet


def test_trees_round_trip_through_jsonl_and_a_torn_line_is_skipped(tmp_path):
    path = tmp_path / "trees.jsonl"
    tree = small_tree()
    tree.nodes[1].visits, tree.nodes[1].value_sum = 2, 1.0
    append_trees(path, [tree, tree])
    with path.open("a") as handle:
        handle.write('{"task": ')  # a write cut by a kill
    back = list(read_trees(path))
    assert len(back) == 2 and back[0].to_dict() == tree.to_dict() and back[0].nodes[1].value == 0.5


def test_a_malformed_record_names_the_file_and_the_record(tmp_path):
    path = tmp_path / "trees.jsonl"
    raw = small_tree().to_dict()
    raw["nodes"] = raw["nodes"][1:]  # no root
    path.write_text(json.dumps(raw) + "\n")
    with pytest.raises(ValueError, match="record 1 is not a search tree"):
        list(read_trees(path))
