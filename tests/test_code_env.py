"""selfgym/Code-v0 against the real sandbox: all of HumanEval, hostile solutions, malformed replies, MBPP files,
the Gymnasium API and vector envs."""

from __future__ import annotations

import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs import Task
from selfgym.envs.code import build_solution, humaneval, read_code_jsonl, task_plan
from selfgym.envs.code.sources import WRONG_EXAMPLES, docstring_examples
from selfgym.envs.code_env import CodeEnv

docker = pytest.mark.docker
HUMANEVAL = list(humaneval())
CLOSE_ELEMENTS = """```python
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
```"""


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def with_body(body: str) -> str:
    """A HumanEval/0 solution whose function body is ``body``."""
    return fenced("import os, sys\ndef has_close_elements(numbers, threshold):\n" + body)


@pytest.fixture
def make_env(env_factory):
    """CodeEnv factory on the module's shared pool (conftest); every env made is closed after the test."""
    return functools.partial(env_factory, CodeEnv)


# --- tasks -------------------------------------------------------------------------------------------------------

def test_humaneval_comes_from_the_package_with_visible_and_hidden_tests():
    assert len(HUMANEVAL) == 164
    first = humaneval().get("HumanEval/0")
    assert first.family == "humaneval" and first.prompt.startswith("from typing import List")
    assert first.data["visible_tests"] == [  # the prompt's own >>> examples
        "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False",
        "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True",
    ]
    assert len(task_plan(first).hidden.tests) == 7
    # no >>> examples: the first self-contained asserts of check(), in the names the agent knows
    assert humaneval().get("HumanEval/151").data["visible_tests"][0] == "assert double_the_difference([]) == 0"
    # decode_cyclic and decode_shift are only tested on random strings: nothing to show
    assert [task.id for task in HUMANEVAL if not task.data["visible_tests"]] == ["HumanEval/38", "HumanEval/50"]
    for task_id in WRONG_EXAMPLES:
        assert docstring_examples(humaneval().get(task_id).prompt)  # they have examples, deliberately not used
    assert Task.from_json(first.to_json()) == first


def test_loop_of_asserts_is_one_test_and_assert_true_is_none():
    plan = task_plan(humaneval().get("HumanEval/32"))
    assert len(plan.hidden.tests) == 1 and plan.hidden.tests[0].startswith("for _ in range(100):")
    plan = task_plan(humaneval().get("HumanEval/53"))  # check() has `assert True` lines and `import random`
    assert not any(test.startswith("assert True") for test in plan.hidden.tests)


def test_mbpp_and_humaneval_jsonl_records_are_detected_per_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    records = [
        {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character "
                                "from the string.",
         "code": "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    i = s.rfind(ch)\n"
                 "    return s if i < 0 else s[:i] + s[i + 1:]",
         "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
         "test_setup_code": "", "challenge_test_list": ['assert remove_Occ("PHP","P") == "H"']},
        {"task_id": "custom/add", "prompt": "def add(a, b):\n    \"\"\"Add.\n    >>> add(1, 2)\n    3\n    \"\"\"\n",
         "test": "def check(candidate):\n    assert candidate(2, 2) == 4\n", "entry_point": "add"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    tasks = read_code_jsonl(path)
    assert tasks.family == "mixed" and len(tasks) == 2
    mbpp = tasks.get("mixed/11")
    assert mbpp.data["entry_point"] == "remove_Occ" and "Your code should pass these tests" in mbpp.prompt
    assert len(task_plan(mbpp).hidden.tests) == 3 and len(task_plan(mbpp).visible.tests) == 2
    assert tasks.get("custom/add").data["visible_tests"] == ["assert add(1, 2) == 3"]


def test_a_record_of_neither_format_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": 1, "question": "?", "answer": "42"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: .*HumanEval fields .*MBPP fields"):
        read_code_jsonl(path)
    path.write_text(json.dumps({"task_id": "x", "prompt": "def f(): pass", "test": "assert f() is None",
                                "entry_point": "f"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: .*check\(candidate\)"):
        read_code_jsonl(path)


# --- extraction (host side, nothing runs) ----------------------------------------------------------------------------

def test_extraction_picks_the_block_defining_the_entry_point():
    reply = ("Here is a helper:\n```python\ndef helper():\n    return 1\n```\nand the answer:\n"
             "```py\ndef f(x):\n    return helper() + x\n```\n```text\nf(1) -> 2\n```")
    assert build_solution(reply, "f").code.strip() == "def f(x):\n    return helper() + x"
    assert build_solution("```python\ndef f(x):\n    return x", "f").code.strip().endswith("return x")  # unclosed
    assert build_solution("def f(x):\n    return x\n", "f").code == "def f(x):\n    return x\n"  # raw code


def test_completion_style_bodies_are_completed_with_the_prompt():
    prompt = humaneval().get("HumanEval/0").prompt
    indented = build_solution("    return False\n", "has_close_elements", prompt)
    flush_left = build_solution("```python\nreturn False\n```", "has_close_elements", prompt)
    assert indented.code == flush_left.code == prompt.rstrip("\n") + "\n    return False\n"
    whole = build_solution(CLOSE_ELEMENTS, "has_close_elements", prompt)
    assert whole.code.startswith("def has_close_elements") and whole.context == "from typing import List"


@pytest.mark.parametrize("reply, error, says", [
    ("", "empty", "reply was empty"),
    ("   \n", "empty", "reply was empty"),
    ("The answer is to sort the list.", "no_code", "no ```python code block"),
    ("```bash\nls\n```", "no_code", "only blocks in other languages"),
    ("```python\ndef f(x)\n    return x\n```", "syntax_error", "line 1"),
    ("```python\ndef g(x):\n    return x\n```", "missing_entry_point", "does not define a function named `f`"),
    ("```python\n" + "(" * 500 + "\n```", "syntax_error", "does not compile"),
    ("`" * 60_000, "no_code", "no ```python code block"),  # one huge fence-like line, found in linear time
])
def test_replies_without_runnable_code_say_what_was_expected(reply, error, says):
    solution = build_solution(reply, "f")
    assert solution.code is None and solution.error == error
    assert says in solution.problem and "```python" in solution.problem


# --- running solutions -------------------------------------------------------------------------------------------

@docker
def test_all_164_canonical_solutions_get_reward_1(pool):
    def solve(task: Task) -> tuple[str, float, dict]:
        env = CodeEnv(pool=pool)
        try:
            env.reset(options={"task": task})
            _, reward, terminated, _, info = env.step(fenced(task.data["canonical_solution"]))
            return task.id, reward if terminated else -1.0, info
        finally:
            env.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as workers:
        results = list(workers.map(solve, HUMANEVAL))
    elapsed = time.monotonic() - started
    print(f"\n164 HumanEval canonical episodes in {elapsed:.1f} s = {164 / elapsed:.1f} episodes/s (pool of 2)")
    assert [task_id for task_id, reward, _ in results if reward != 1.0] == []
    # the feedback never calls a correct solution wrong
    assert [task_id for task_id, _, info in results if info["visible_passed"] != info["visible_total"]] == []


@docker
def test_wrong_solution_gets_0_and_feedback_names_the_failing_test(make_env):
    env = make_env()
    env.reset(options={"task_id": "HumanEval/0"})
    observation, reward, terminated, truncated, info = env.step(with_body("    return False\n"))
    assert (reward, terminated, truncated) == (0.0, False, False)
    failing = "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True"
    assert f"Tests failed:\n{failing}  # output: False" in observation
    assert "Tests passed:\nassert has_close_elements([1.0, 2.0, 3.0], 0.5) == False" in observation
    assert info["failed_tests"] == [failing] and (info["passed"], info["total"]) == (3, 7)
    assert info["error"] == "tests_failed" and "3 of 7 hidden tests passed" in observation


@docker
def test_exception_feedback_has_the_solutions_traceback(make_env):
    env = make_env()
    env.reset(options={"task_id": "HumanEval/0"})
    observation, reward, *_ = env.step(with_body("    return numbers + threshold\n"))
    assert reward == 0.0
    assert "# raised TypeError: can only concatenate list" in observation
    assert 'File "solution.py", line 3, in has_close_elements' in observation  # the reply's own line numbers
    assert "runner" not in observation and "__selfgym" not in observation


@docker
@pytest.mark.parametrize("body, expect", [
    ("    while True:\n        pass\n", "timed out"),
    ("    while True:\n        try:\n            while True:\n                pass\n"
     "        except BaseException:\n            pass\n", "time limit"),  # swallows the per-test timeout
    ("    while True:\n        os.fork()\n", "limit on processes"),
    ("    os.system(':(){ :|:& };:')\n    return True\n", "failed"),
])
def test_endless_loops_and_fork_bombs_cost_the_attempt_not_the_episode(make_env, body, expect):
    env = make_env(timeout_s=4.0, test_timeout_s=1.0)
    env.reset(options={"task_id": "HumanEval/0"})
    observation, reward, terminated, truncated, info = env.step(with_body(body))
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert expect in observation
    observation, reward, terminated, truncated, info = env.step(CLOSE_ELEMENTS)
    assert (reward, terminated) == (1.0, True), observation


@docker
@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(0)\ndef has_close_elements(a, b):\n    return True",
    "import os\ndef has_close_elements(a, b):\n    os._exit(0)",
    "import sys\ndef has_close_elements(a, b):\n    sys.exit(0)",
    # prints (and writes to every descriptor it has) results in the judge's format
    "import json, os\nfake = ''.join(json.dumps({'kind': 'test', 'suite': suite, 'index': i, 'passed': True}) + '\\n'"
    "\n               for suite in ('visible', 'hidden') for i in range(7)) + '{\"kind\": \"done\"}\\n'\n"
    "for fd in range(1, 20):\n    try:\n        os.write(fd, fake.encode())\n    except OSError:\n        pass\n"
    "def has_close_elements(a, b):\n    print(fake)\n    return None",
    # rewrites results on their way out, through the modules a reporting process would use
    "import json, os\n_dumps, _write = json.dumps, os.write\n"
    "json.dumps = lambda o, *a, **k: _dumps(dict(o, passed=True) if 'passed' in o else o, *a, **k)\n"
    "os.write = lambda fd, data: _write(fd, bytes(data).replace(b'\"passed\": false', b'\"passed\": true'))\n"
    "def has_close_elements(a, b):\n    return None",
])
def test_exiting_or_faking_output_does_not_pass(make_env, code):
    env = make_env(timeout_s=5.0)
    env.reset(options={"task_id": "HumanEval/0"})
    observation, reward, terminated, truncated, info = env.step(fenced(code))
    assert (reward, terminated) == (0.0, False), observation
    assert info["passed"] < info["total"]


@docker
def test_fraction_reward_counts_hidden_asserts(make_env):
    env = make_env(reward="fraction")
    env.reset(options={"task_id": "HumanEval/0"})
    _, reward, terminated, _, info = env.step(with_body("    return False\n"))
    assert reward == pytest.approx(3 / 7) and not terminated
    _, reward, terminated, _, _ = env.step(CLOSE_ELEMENTS)
    assert (reward, terminated) == (1.0, True)


@docker
def test_malformed_replies_are_attempts_with_reward_0(make_env):
    env = make_env(max_steps=7, max_action_chars=10_000)
    env.reset(options={"task_id": "HumanEval/0"})
    replies = {"": "reply was empty", "Sort the list, then compare neighbours.": "no ```python code block",
               "```python\ndef has_close_elements(a, b)\n```": "does not compile", "x" * 10_001: "limit is 10,000",
               b"\xff\xfe junk": "not valid UTF-8", 12345: "must be text"}
    for attempt, (reply, says) in enumerate(replies.items(), start=1):
        observation, reward, terminated, truncated, info = env.step(reply)
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert info["step"] == attempt and says in observation, observation
    _, reward, terminated, truncated, _ = env.step("still no code")
    assert (reward, terminated, truncated) == (0.0, False, True)  # the attempt budget ran out
    with pytest.raises(gym.error.ResetNeeded):
        env.step(CLOSE_ELEMENTS)


@docker
def test_mbpp_jsonl_file_end_to_end(make_env, tmp_path):
    path = tmp_path / "mbpp.jsonl"
    record = {"task_id": 2, "text": "Write a function to find the shared elements from the given two lists.",
              "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
              "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
                            "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))"],
              "test_setup_code": "import math", "challenge_test_list": []}
    path.write_text(json.dumps(record) + "\n")
    env = make_env(tasks=str(path))
    observation, info = env.reset(seed=0)
    assert info["task_id"] == "mbpp/2" and "similar_elements" in observation
    observation, reward, *_ = env.step(fenced("def similar_elements(a, b):\n    return tuple(a)"))
    assert reward == 0.0
    assert "Tests failed:\nassert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))" in observation
    _, reward, terminated, _, _ = env.step(fenced(record["code"]))
    assert (reward, terminated) == (1.0, True)


# --- Gymnasium API -----------------------------------------------------------------------------------------------

@docker
def test_check_env_passes(make_env):
    check_env(make_env(max_steps=2), skip_render_check=False)


@docker
def test_gym_make_render_and_reset_options(pool):
    env = gym.make("selfgym/Code-v0", pool=pool, render_mode="ansi", max_steps=2)
    try:
        observation, info = env.reset(options={"task_id": "HumanEval/2"})
        assert "truncate_number" in observation and "```python" in observation and info["entry_point"]
        env.step("    return number % 1.0\n")
        transcript = env.render()
        assert "== humaneval / HumanEval/2 ==" in transcript and "all 3 hidden tests passed" in transcript
        first, _ = env.reset(seed=7)
        again, _ = env.reset(seed=7)
        assert first == again
    finally:
        env.close()


@docker
def test_sync_vector_env_shares_one_pool(pool):
    envs = gym.vector.SyncVectorEnv([functools.partial(CodeEnv, pool=pool) for _ in range(2)])
    try:
        _, infos = envs.reset(seed=[1, 2])
        tasks = [humaneval().get(task_id) for task_id in infos["task_id"]]
        _, rewards, terminated, _, infos = envs.step([fenced(t.data["canonical_solution"]) for t in tasks])
        assert list(rewards) == [1.0, 1.0] and list(terminated) == [True, True]
    finally:
        envs.close()


@docker
def test_async_vector_env_with_a_private_sandbox_each(sandbox_image):
    envs = gym.vector.AsyncVectorEnv([functools.partial(CodeEnv, image=sandbox_image) for _ in range(2)],
                                     context="spawn")
    try:
        envs.reset(options={"task_id": "HumanEval/0"})  # the same option goes to every sub-env
        _, rewards, terminated, _, infos = envs.step([CLOSE_ELEMENTS, "```python\nreturn True\n```"])
        assert list(rewards) == [1.0, 0.0] and list(terminated) == [True, False]
        assert list(infos["passed"]) == [7, 4]  # `return True` passes the 4 True cases
    finally:
        envs.close()
