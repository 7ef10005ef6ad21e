"""Suites (loading, errors, expansion, seeds), agent specs, the oracle, chunks, the episode log, summary
statistics. No Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfgym.agents import AgentSpecError, OraclePolicy, PolicyError, parse_agent
from selfgym.envs import Task, env_class
from selfgym.envs.math_env import MathEnv
from selfgym.eval import EpisodeLog, EvalError, SuiteError, expand_suite, load_suite, shipped_suites
from selfgym.eval.runner import chunks
from selfgym.eval.suite import episode_seed


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_suites_load_and_expand():
    assert {"code", "shell", "math"} <= set(shipped_suites())
    code = expand_suite(load_suite("code"))
    assert code.tasks_per_set == {"humaneval": 164} and len(code.episodes) == 164 * 5
    shell = expand_suite(load_suite("shell"))
    assert sum(shell.tasks_per_set.values()) == 124 and set(shell.tasks_per_set) == {
        "files", "text", "archives", "git", "processes", "data", "build", "permissions", "services"}
    math = expand_suite(load_suite("math"))
    assert all(count == 20 for count in math.tasks_per_set.values())
    # every shipped task has a reference solution for the oracle
    for expanded in (code, shell, math):
        assert all(env_class(e.env_id).reference_actions(e.task) for e in expanded.episodes if e.attempt == 0)
    # the fingerprint is a function of the content: the same on a second expansion
    assert expand_suite(load_suite("math")).fingerprint == math.fingerprint


def suite(tmp_path: Path, *task_sets: str, head: str = "", name: str = "suite.yaml") -> Path:
    """A suite file named s v1 with ``head`` lines and these task sets (YAML flow mappings)."""
    sets = "".join(f"  - {task_set}\n" for task_set in task_sets)
    return write(tmp_path, f"name: s\nversion: 1\n{head}task_sets:\n{sets}", name)


def test_errors_name_file_line_and_key(tmp_path):
    path = write(tmp_path, "name: s\nversion: 1\nattempts: 2\ntask_sets:\n  - name: a\n"
                           "    env: selfgym/Code-v0\n    limt: 3\n")
    with pytest.raises(SuiteError, match=r"suite.yaml:7: task_sets.0.limt: unknown key \(did you mean 'limi"):
        load_suite(path)
    path = suite(tmp_path, "{name: a, env: selfgym/Code-v0}", head="attempts: 2\nk: [1, 5]\n")
    with pytest.raises(SuiteError, match=r"every k must be between 1 and attempts=2; got \[5\]"):
        load_suite(path)
    path = suite(tmp_path, "{name: a, env: selfgym/Code-v0}", "{name: a, env: selfgym/Math-v0}")
    with pytest.raises(SuiteError, match=r"repeated: \['a'\]"):
        load_suite(path)
    with pytest.raises(SuiteError, match="did you mean 'math'"):
        load_suite("maths")
    for task_set, problem in [
        ("{name: a, env: selfgym/Code-V0}", "not registered; did you mean 'selfgym/Code-v0'"),
        ("{name: a, env: selfgym/Code-v0, ids: [HumanEval/9999]}", r"ids \['HumanEval/9999'\] match no task"),
        ("{name: a, env: selfgym/Code-v0, env_kwargs: {colour: 1}}", "env_kwargs do not fit selfgym/Code-v0"),
        ("{name: a, env: selfgym/Math-v0, file: nothing.jsonl}", "nothing.jsonl"),
    ]:
        with pytest.raises(SuiteError, match=problem):
            expand_suite(load_suite(suite(tmp_path, task_set)))


def test_task_files_globs_limits_and_seeds(tmp_path):
    (tmp_path / "gsm.jsonl").write_text("".join(
        json.dumps({"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"}) + "\n"
        for i in range(5)))
    path = suite(tmp_path, "{name: gsm, env: selfgym/Math-v0, file: gsm.jsonl, limit: 3}",
                 "{name: he, env: selfgym/Code-v0, ids: ['HumanEval/1?'], limit: 4}",
                 "{name: g, env: selfgym/Math-v0, reasoning_gym: {name: gcd, level: 1, seed: 5, size: 2}}",
                 head="seed: 3\nattempts: 2\n")
    expanded = expand_suite(load_suite(path))
    assert expanded.tasks_per_set == {"gsm": 3, "he": 4, "g": 2}
    he = [e for e in expanded.episodes if e.task_set == "he"]
    assert [e.task.id for e in he[::2]] == ["HumanEval/10", "HumanEval/11", "HumanEval/12", "HumanEval/13"]
    assert [e.attempt for e in he[:2]] == [0, 1]
    assert len({e.key for e in expanded.episodes}) == len(expanded.episodes)
    # seeds depend on the suite seed, set, task and attempt only
    first = expanded.episodes[0]
    assert first.seed == episode_seed(3, "gsm", first.task.id, 0) != episode_seed(4, "gsm", first.task.id, 0)
    assert len({e.seed for e in expanded.episodes}) == len(expanded.episodes)
    smaller = write(tmp_path, path.read_text().replace("limit: 3", "limit: 1"), "smaller.yaml")
    assert expand_suite(load_suite(smaller)).episodes[0].seed == first.seed
    # a changed task file changes the fingerprint, though the suite file is the same
    (tmp_path / "gsm.jsonl").write_text((tmp_path / "gsm.jsonl").read_text().replace("#### 0", "#### 1"))
    assert expand_suite(load_suite(path)).fingerprint != expanded.fingerprint


def test_agent_specs(tmp_path):
    spec = parse_agent("openai:my-model@http://127.0.0.1:8000/v1")
    assert (spec.backend, spec.model, spec.base_url) == ("openai", "my-model", "http://127.0.0.1:8000/v1")
    assert spec.display_name == "my-model"
    assert parse_agent("openai:http://h:1/v1", model="m").model == "m"
    with pytest.raises(AgentSpecError, match="name the model"):
        parse_agent("openai:http://h:1/v1")
    assert parse_agent("hf:smollm2", name="small").display_name == "small"
    assert parse_agent("scripted:oracle").display_name == "scripted:oracle"
    with pytest.raises(AgentSpecError, match="scripted:oracle"):
        parse_agent("scripted:genius")
    checkpoint = tmp_path / "ckpt" / "policy"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    spec = parse_agent(str(tmp_path / "ckpt"))
    assert (spec.backend, spec.model, spec.display_name) == ("hf", str(checkpoint), "ckpt")
    with pytest.raises(AgentSpecError, match="no config.json"):
        parse_agent(str(tmp_path))
    with pytest.raises(AgentSpecError, match="cannot tell which agent"):
        parse_agent("gpt-5")


def test_oracle_finds_the_most_specific_task():
    short = Task("t/1", "math", "What is 2+3?", data={"answer": "5"})
    longer = Task("t/2", "math", "What is 2+33?", data={"answer": "35"})
    multi = Task("t/3", "math", "List them.", data={"answer": "a\nb"})
    oracle = OraclePolicy([(MathEnv, task) for task in (short, longer, multi)])
    def ask(text: str) -> str:
        return oracle.act([{"role": "system", "content": "s"}, {"role": "user", "content": text}])

    assert ask("Solve: What is 2+33?\nGive a boxed answer.") == "The answer is \\boxed{35}."
    assert ask("What is 2+3?") == "The answer is \\boxed{5}."
    assert ask("List them.") == "<answer>a\nb</answer>"
    with pytest.raises(PolicyError, match="not given"):
        ask("What is 7*7?")


def test_chunks_stay_within_a_task_set():
    expanded = expand_suite(load_suite("shell"))
    grouped = chunks(expanded.episodes, 4)
    assert [e for chunk in grouped for e in chunk] == expanded.episodes
    assert all(len({e.task_set for e in chunk}) == 1 and 1 <= len(chunk) <= 4 for chunk in grouped)


def test_episode_log_cuts_a_torn_line_and_keeps_one_record_per_key(tmp_path):
    path = tmp_path / "episodes.jsonl"
    record = lambda key: {"meta": {"eval": {"key": key}}, "success": True}  # noqa: E731
    log = EpisodeLog(path)
    fresh = log.append([record("a"), record("b"), record("a")])
    assert [r["meta"]["eval"]["key"] for r in fresh] == ["a", "b"]
    with path.open("ab") as fh:
        fh.write(b'{"meta": {"eval": {"key": "c"')  # a write cut short by a kill
    log = EpisodeLog(path)
    assert set(log.records) == {"a", "b"} and path.read_bytes().endswith(b"}\n")
    log.append([record("c"), record("b")])
    lines = path.read_text().splitlines()
    assert [json.loads(line)["meta"]["eval"]["key"] for line in lines] == ["a", "b", "c"]
    path.write_text('{"not": "an episode"}\n')
    with pytest.raises(EvalError, match="episodes.jsonl:1: not an episode record"):
        EpisodeLog(path)


def test_summary_statistics_on_known_outcomes(tmp_path):
    from math import comb

    from selfgym.eval import summarize, wilson_interval

    (tmp_path / "gsm.jsonl").write_text("".join(
        json.dumps({"question": f"q{i}?", "answer": f"#### {i}"}) + "\n" for i in range(3)))
    path = suite(tmp_path, "{name: a, env: selfgym/Math-v0, file: gsm.jsonl, limit: 2}",
                 "{name: b, env: selfgym/Math-v0, file: gsm.jsonl, ids: [gsm/3]}",
                 head="attempts: 4\nk: [1, 2, 4]\n")
    expanded = expand_suite(load_suite(path))
    wins = {("a", 0): [1, 0, 0, 1], ("a", 1): [0, 0, 0, 0], ("b", 0): [1, 1, 1, 0]}
    order = {("a", "gsm/1"): ("a", 0), ("a", "gsm/2"): ("a", 1), ("b", "gsm/3"): ("b", 0)}
    records = []
    for episode in expanded.episodes:
        won = wins[order[(episode.task_set, episode.task.id)]][episode.attempt]
        records.append({"task": episode.task.to_dict(), "success": bool(won), "final_reward": float(won),
                        "steps": [{"prompt_tokens": 10, "completion_tokens": 5}],
                        "meta": {"eval": {"key": episode.key, "task_set": episode.task_set, "session": "x",
                                          "finished_at": 0.0}}})
    summary = summarize(expanded, records, [], parse_agent("scripted:empty"))
    results = summary["results"]
    assert (results["episodes"], results["tasks"], results["successes"]) == (12, 3, 5)
    assert results["success_ci95"] == pytest.approx(list(wilson_interval(5, 12)))
    reference = lambda n, c, k: 1.0 if n - c < k else 1 - comb(n - c, k) / comb(n, k)  # noqa: E731
    for k in (1, 2, 4):
        expected = (reference(4, 2, k) + reference(4, 0, k) + reference(4, 3, k)) / 3
        estimate = results["pass_at_k"][str(k)]
        assert estimate["estimate"] == pytest.approx(expected)
        assert estimate["ci95"][0] <= expected <= estimate["ci95"][1]
    family = results["families"]["a"]["pass_at_k"]["2"]["estimate"]
    assert family == pytest.approx((reference(4, 2, 2) + reference(4, 0, 2)) / 2)
    assert results["families"]["b"]["success_rate"] == 0.75
    assert summary["cost"]["prompt_tokens"] == 120 and summary["cost"]["tokens_per_episode"] == 15
    assert summary["complete"]
