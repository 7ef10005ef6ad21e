"""selfgym/Math-v0: the Gymnasium API, task sources (reasoning-gym generators, GSM8K and MATH files), malformed
replies, and Python tool turns in the real sandbox (shared pools, vector envs)."""

from __future__ import annotations

import functools
import json

import gymnasium as gym
import pytest
from answer_gaming import assert_refuses_gaming, generic_distractors
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs import Task
from selfgym.envs.math import (
    DEFAULT_GENERATORS,
    ReasoningGymSource,
    TaskMix,
    generator_names,
    load_math_jsonl,
    reasoning_gym_families,
)
from selfgym.envs.math.generators import SYMBOLIC_GENERATORS
from selfgym.envs.math_env import MathEnv
from selfgym.sandbox import Limits, SandboxPool

docker = pytest.mark.docker


def plain_task(answer: str, prompt: str = "What is it?") -> dict:
    return Task("t", "custom", prompt, data={"answer": answer}).to_dict()


@pytest.fixture
def env():
    made = MathEnv()
    yield made
    made.close()


# --- Gymnasium API ---------------------------------------------------------------------------------------------


def test_check_env_passes():
    env = gym.make("selfgym/Math-v0", render_mode="ansi")
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def test_default_env_serves_easy_reasoning_gym_arithmetic_reproducibly():
    env = gym.make("selfgym/Math-v0")
    try:
        first = [env.reset(seed=seed) for seed in (1, 2, 3, 1)]
        assert first[0] == first[3] and first[0][1]["task_id"] != first[1][1]["task_id"]
        families = {env.reset()[1]["family"] for _ in range(40)}
        assert families <= set(DEFAULT_GENERATORS) and len(families) >= 3
        observation, info = first[0]
        assert "\\boxed" in observation and "<python>" in observation and info["difficulty"] == 0
    finally:
        env.close()


def test_a_right_answer_ends_with_reward_1_and_a_wrong_one_with_0(env):
    env.reset(options={"task": plain_task("\\frac{3}{4}")})
    _, reward, terminated, truncated, info = env.step("Adding up... so the answer is \\boxed{0.75}.")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["expected"] == "\\frac{3}{4}" and info["extracted"] == "0.75" and info["correct"] is True
    env.reset(options={"task": plain_task("\\frac{3}{4}")})
    observation, reward, terminated, _, info = env.step("Answer: 0.7")
    assert (reward, terminated, info["correct"], observation) == (0.0, True, False, "Incorrect.")
    with pytest.raises(gym.error.ResetNeeded):
        env.step("\\boxed{0.75}")


@pytest.mark.parametrize("action, error", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("Let me think about the numbers 3 and 4.", "no final answer"),
    (b"\xff\xfe\x00junk", "not valid UTF-8"),
    ("9" * 70_000, "limit is 64,000"),
    (42, "must be text"),
])
def test_malformed_replies_are_observations_saying_what_was_expected(env, action, error):
    env.reset(options={"task": plain_task("7")})
    observation, reward, terminated, truncated, info = env.step(action)
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["malformed"] is True and error in info["error"] and error in observation
    if error in ("empty", "no final answer"):  # the others are the base class's checks, before any parsing
        assert "\\boxed{...}" in observation
    assert env.step("\\boxed{7}")[1] == 1.0  # the episode goes on


def test_the_step_budget_truncates(env):
    small = MathEnv(max_steps=2)
    small.reset(options={"task": plain_task("7")})
    assert small.step("hmm")[2:4] == (False, False)
    assert small.step("still thinking")[2:4] == (False, True)


def test_a_verification_timeout_is_a_wrong_answer_saying_so():
    env = MathEnv(verify_timeout_s=1.0)
    env.reset(options={"task": plain_task("2")})
    observation, reward, terminated, _, info = env.step("\\boxed{10^{10^{10}}}")
    assert (reward, terminated, info["correct"]) == (0.0, True, False)
    assert "timed out" in info["error"] and "timed out" in observation


def test_render_ansi_shows_the_transcript():
    env = MathEnv(render_mode="ansi")
    env.reset(options={"task": plain_task("5", "What is 2 + 3?")})
    env.step("\\boxed{5}")
    text = env.render()
    assert "What is 2 + 3?" in text and "\\boxed{5}" in text and "Correct." in text


# --- reasoning-gym generators ------------------------------------------------------------------------------

GOLD_GENERATORS = ["basic_arithmetic", "chain_sum", "products", "simple_equations", "gcd", "lcm", "leg_counting",
                   "fraction_simplification", "decimal_arithmetic", "prime_factorization", "base_conversion",
                   "polynomial_multiplication", "simple_integration", "spell_backward", "word_sorting",
                   "letter_counting", "mini_sudoku", "family_relationships", "number_sorting", "caesar_cipher"]


@pytest.mark.parametrize("name", GOLD_GENERATORS)
def test_gold_answers_of_reasoning_gym_generators_score_1(name):
    source = ReasoningGymSource(name, 1, seed=4, size=50)
    env = MathEnv(source)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        gold = env.unwrapped.task.data["answer"]
        reply = f"\\boxed{{{gold}}}" if name in SYMBOLIC_GENERATORS else f"<answer>{gold}</answer>"
        _, reward, terminated, _, info = env.step(reply)
        assert (reward, terminated, info["correct"]) == (1.0, True, True), (name, gold, info)
        assert info["family"] == name and info["expected"] == gold


def test_generator_tasks_round_trip_through_json_and_are_judged_as_stored():
    source = ReasoningGymSource("polynomial_multiplication", 0, seed=9, size=20)  # depends on PYTHONHASHSEED
    task = Task.from_json(source.task(3).to_json())
    env = MathEnv(source)
    _, info = env.reset(options={"task": json.loads(task.to_json())})
    assert info["task_id"] == task.id
    assert env.step(f"<answer>{task.data['answer']}</answer>")[1] == 1.0
    assert source.get(task.id) == source.task(3)


def test_families_expose_difficulty_attributes_curricula_can_turn():
    families = reasoning_gym_families()
    assert set(families) == set(generator_names()) and len(families) >= 100
    attributes = families["basic_arithmetic"]
    assert set(attributes) == {"num_terms", "num_digits"} and attributes["num_terms"]["levels"] >= 3
    easy = ReasoningGymSource("basic_arithmetic", 0, seed=1, size=30)
    hard = ReasoningGymSource("basic_arithmetic", {"num_terms": 2, "num_digits": 3}, seed=1, size=30)
    clipped = ReasoningGymSource("basic_arithmetic", 99, seed=1, size=30)
    assert (easy.task(0).difficulty, hard.task(0).difficulty) == (0, 3)
    assert clipped.levels == {attr: spec["levels"] - 1 for attr, spec in attributes.items()}
    assert hard.task(0).data["attributes"] and hard.task(0).id == "basic_arithmetic/Lnum_digits=3,num_terms=2/s1/0"
    mean_length = [sum(len(t.data["answer"]) for t in source) / len(source) for source in (easy, hard)]
    assert mean_length[1] > mean_length[0]  # more and longer numbers
    assert families["acre"] == {}  # no curriculum: one difficulty


def test_bad_generator_settings_are_errors_that_say_why():
    with pytest.raises(ValueError, match="did you mean 'basic_arithmetic'"):
        ReasoningGymSource("basic_arithmetc")
    with pytest.raises(ValueError, match="has no difficulty attribute.*num_terms"):
        ReasoningGymSource("basic_arithmetic", {"terms": 1})
    with pytest.raises(ValueError, match="levels 0..3, got 7"):
        ReasoningGymSource("basic_arithmetic", {"num_digits": 7})
    with pytest.raises(ValueError, match="cannot make knight_swap.*min_nodes"):
        ReasoningGymSource("knight_swap", 0)  # reasoning-gym's own curriculum starts below its config's minimum
    assert ReasoningGymSource("knight_swap", 0, min_nodes=6, max_nodes=6).task(0).prompt  # a config override fixes it
    with pytest.raises(KeyError, match="gcd/L0/s0/<0..9>"):
        ReasoningGymSource("gcd", size=10).get("gcd/L0/s0/10")


def test_task_mix_draws_from_every_source_and_finds_ids():
    mix = TaskMix([ReasoningGymSource("gcd", size=5), ReasoningGymSource("lcm", size=5)], weights=[3, 1])
    assert len(mix) == 10 and [t.family for t in mix].count("lcm") == 5
    assert mix.get("lcm/L0/s0/4").family == "lcm"
    with pytest.raises(KeyError, match="'gcd', 'lcm'"):
        mix.get("nope/1")


# --- GSM8K and MATH files ----------------------------------------------------------------------------------


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    return path


def test_gsm8k_and_math_files_are_read_and_judged(tmp_path):
    gsm8k = write_jsonl(tmp_path / "gsm8k.jsonl", [
        {"question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
         "answer": "In May she sold 48/2 = 24.\nIn all 48 + 24 = 72.\n#### 72"},
        {"question": "A big number?", "answer": "It is big.\n#### 1,200"},
    ])
    math = write_jsonl(tmp_path / "math.jsonl", [
        {"problem": "Simplify $\\sqrt{8}$.", "solution": "$\\sqrt{8} = \\boxed{2\\sqrt{2}}$.", "level": "Level 2",
         "type": "Algebra"},
        {"problem": "Solve $x^2 < 1$.", "solution": "...", "answer": "(-1,1)", "unique_id": "test/algebra/1.json"},
    ])
    gsm_tasks, math_tasks = load_math_jsonl(gsm8k), load_math_jsonl(math, format="math")
    assert [t.data["answer"] for t in gsm_tasks] == ["72", "1200"] and gsm_tasks.get("gsm8k/1").family == "gsm8k"
    assert [(t.id, t.difficulty, t.data["answer"]) for t in math_tasks] == [
        ("math/1", 2, "2\\sqrt{2}"), ("test/algebra/1.json", 0, "(-1,1)")]
    env = MathEnv(TaskMix([gsm_tasks, math_tasks]), tools=False)
    for task_id, reply, reward in [("gsm8k/1", "#### 72", 1.0), ("gsm8k/2", "\\boxed{1200}", 1.0),
                                   ("math/1", "\\boxed{\\sqrt{8}}", 1.0), ("test/algebra/1.json", "\\boxed{[-1,1]}", 0.0)]:
        env.reset(options={"task_id": task_id})
        assert env.step(reply)[1] == reward, task_id


def test_a_bad_record_names_its_file_and_line(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "a\n#### 1"}, {"question": "q", "answer": "no"}])
    with pytest.raises(ValueError, match=r"bad.jsonl:2: .*####"):
        load_math_jsonl(bad)
    with pytest.raises(ValueError, match=r"missing field\(s\) \['solution'\]"):
        load_math_jsonl(write_jsonl(tmp_path / "m.jsonl", [{"problem": "p"}]), format="math")


# --- Python tool turns ---------------------------------------------------------------------------------------


def test_without_tools_a_python_block_is_not_run_and_no_sandbox_is_taken():
    env = MathEnv(tools=False)
    env.reset(options={"task": plain_task("42")})
    observation, reward, terminated, _, info = env.step("<python>print(6 * 7)</python>")
    assert (reward, terminated, info["malformed"]) == (0.0, False, True) and "<python>" not in observation
    assert env.step("<python>print(6 * 7)</python>\nSo \\boxed{42}")[1] == 1.0
    assert env._lease.sandbox is None and env._lease._private_pool is None


@pytest.fixture(scope="module")
def pool(sandbox_image):
    with SandboxPool(sandbox_image, size=2, limits=Limits(memory_mb=256, disk_mb=16, timeout_s=10)) as shared:
        yield shared


@docker
def test_python_output_comes_back_and_the_episode_goes_on(pool):
    env = MathEnv(pool=pool, max_steps=3)
    try:
        env.reset(options={"task": plain_task("5040")})
        observation, reward, terminated, truncated, info = env.step(
            "Let me compute.\n<python>\nimport math\nprint(math.factorial(7))\n</python>")
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert "5040" in observation and info["tool"] == "python" and info["exit_code"] == 0
        assert "2 replies left" in observation
        assert env.step("The tool says 5040, so \\boxed{5040}")[1:3] == (1.0, True)
    finally:
        env.close()


@docker
def test_files_last_for_the_episode_and_the_next_episode_starts_clean(pool):
    env = MathEnv(pool=pool)
    try:
        env.reset(options={"task": plain_task("1")})
        env.step("<python>open('notes.txt', 'w').write('kept')</python>")
        assert "kept" in env.step("<python>print(open('notes.txt').read())</python>")[0]
        env.reset(options={"task": plain_task("1")})
        observation, _, _, _, info = env.step("<python>print(open('notes.txt').read())</python>")
        assert "FileNotFoundError" in observation and info["exit_code"] == 1
    finally:
        env.close()


@docker
@pytest.mark.parametrize("code, says", [
    ("while True:\n    pass", "timed out after 2 s"),
    ("print('x' * 200_000)", "characters cut"),
    ("import os\nos.kill(os.getpid(), 9)", "exit code 137"),
    ("open('/work/big', 'wb').write(b'0' * 40_000_000)", "No space left"),
    ("", "(no output)"),
])
def test_hostile_or_odd_programs_are_observations(pool, code, says):
    env = MathEnv(pool=pool, python_timeout_s=2)
    try:
        env.reset(options={"task": plain_task("1")})
        observation, reward, terminated, _, _ = env.step(f"<python>\n{code}\n</python>")
        assert says in observation and len(observation) < 6_000 and (reward, terminated) == (0.0, False)
        observation = env.step("<python>print('still here')</python>")[0]  # the sandbox is usable (or renewed)
        assert "still here" in observation or "could not run" in observation
    finally:
        env.close()


@docker
def test_envs_share_one_pool_in_a_sync_vector_env_and_close_gives_sandboxes_back(pool):
    envs = gym.vector.SyncVectorEnv([functools.partial(MathEnv, pool=pool) for _ in range(2)])
    try:
        envs.reset(options={"task": plain_task("12")})
        observations, rewards, _, _, _ = envs.step(["<python>print(3 * 4)</python>", "<python>print(2 ** 4)</python>"])
        assert "12" in observations[0] and "16" in observations[1]
        _, rewards, terminated, _, _ = envs.step(["\\boxed{12}", "\\boxed{16}"])
        assert list(rewards) == [1.0, 0.0] and list(terminated) == [True, True]
    finally:
        envs.close()
    with pool.acquire(timeout=30), pool.acquire(timeout=30):
        pass  # both sandboxes came back


def test_async_vector_env_judges_in_its_worker_processes():
    # vector-env workers are daemonic processes: the verifier must start there too (it is a plain subprocess), and
    # a forked worker must start its own rather than write to the parent's pipes
    from selfgym.envs.math.answers import verify_answer
    from selfgym.envs.math.verifier import default_verifier

    assert verify_answer("\\sqrt{12}", "2\\sqrt{3}").correct
    parent_workers = default_verifier().pids
    envs = gym.vector.AsyncVectorEnv([functools.partial(MathEnv, tools=False) for _ in range(2)], context="fork")
    try:
        envs.reset(options={"task": plain_task("\\frac{1}{2}")})
        _, rewards, terminated, _, infos = envs.step(["\\boxed{\\sqrt{1/4}}", "\\boxed{\\sqrt{1/2}}"])
        assert list(rewards) == [1.0, 0.0] and list(terminated) == [True, True]
        assert list(infos["extracted"]) == ["\\sqrt{1/4}", "\\sqrt{1/2}"]
    finally:
        envs.close()
    assert default_verifier().pids == parent_workers and verify_answer("\\sqrt{27}", "3\\sqrt{3}").correct


def test_flexible_extraction_falls_back_to_the_last_number():
    from selfgym.envs.math_env import MathEnv

    task = Task("flex/1", "custom", "How many legs do 3 ducks have?", data={"answer": "6"})
    strict, flexible = MathEnv(tools=False, max_steps=2), MathEnv(tools=False, extraction="flexible")
    strict.reset(options={"task": task})
    _, reward, terminated, _, info = strict.step("Three ducks have 6 legs.")
    assert (reward, terminated, info["malformed"]) == (0.0, False, True)
    flexible.reset(options={"task": task})
    _, reward, terminated, _, info = flexible.step("Each duck has 2 legs, so 3 ducks have 6 legs.")
    assert (reward, terminated, info["extraction"], info["extracted"]) == (1.0, True, "last-number", "6")
    flexible.reset(options={"task": task})
    _, reward, _, _, info = flexible.step("They have \\boxed{8} legs, not 6.")  # a marker still wins
    assert (reward, info["extraction"]) == (0.0, "marker")
    flexible.reset(options={"task": task})
    assert flexible.step("no idea")[4]["malformed"]
    with pytest.raises(ValueError, match="extraction"):
        MathEnv(extraction="loose")


# --- answers that list candidates (issue 13): never a reward -------------------------------------------------------

def reward_of(reply: str, gold: str, **kwargs) -> float:
    env = gym.make("selfgym/Math-v0", tools=False, **kwargs)
    try:
        env.reset(options={"task": plain_task(gold)})
        return env.step(reply)[1]
    finally:
        env.close()


@pytest.mark.parametrize("reply", [
    "\\boxed{1, 2, 3}", "\\boxed{2} or \\boxed{3}", "$\\boxed{3}$, $\\boxed{2}$", "\\boxed{2}\\boxed{3}",
    "\\boxed{2} \\text{ or } \\boxed 3", "<answer>2</answer> or <answer>3</answer>", "Answer: 2 or 3",
    "Answer: 3 or 2", "Answer: $2$ or $3$", "\\boxed{x = 2, x = 3}", "\\boxed{x = 2 \\text{ or } x = 3}",
    "\\boxed{\\{2, 3\\}}", "\\boxed{[1, 3]}", "\\boxed{(1, 3)}", "\\boxed{\\pm 2}", "\\boxed{2 \\pm 1}",
    "<answer>1, 2, 3</answer>", "<answer>2 and 3</answer>", "\\boxed{x \\in \\{2, 3\\}}", "\\boxed{2 \\lor 3}",
    "\\boxed{\\{2\\} \\cup \\{3\\}}", "\\boxed{2;3}",
])
def test_an_answer_listing_candidates_gets_no_reward(reply):
    assert reward_of(reply, "2") == 0.0


@pytest.mark.parametrize("separator", [
    "\n", "\\\\", " \\\\ ", "|", " | ", "\\mid", "~", "&", "\\hline", "\\par", "\\colon", "\\to", "\\Rightarrow",
    "\\approx", "\\equiv", "=", "...", "\\text{ then }", "\\quad", " ", "\\text{, }",
])
def test_no_list_of_candidates_passes_for_two_gold_answers(separator):
    # math-verify reads one part of some of these (the first or the last): never both, so nothing is hedged
    for first, second in (("2", "3"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("1687.5", "57")):
        for reply in (f"\\boxed{{{first}{separator}{second}}}", f"<answer>{first}{separator}{second}</answer>"):
            assert reward_of(reply, first) + reward_of(reply, second) <= 1.0, reply


@pytest.mark.parametrize("marker", ["\\boxed{%s}", "<answer>%s</answer>", "Answer: %s"])
@pytest.mark.parametrize("reference, distractors", [
    ("3", ["2", "4"]), ("-6", ["-13"]), ("1687.5", ["57"]), ("\\frac{1}{2}", ["\\frac{1}{3}"]),
    ("\\sqrt{2}", ["\\sqrt{3}"]), ("x^2+1", ["x^2-1"]), ("(1,2]", ["[1,2)"]), ("90^\\circ", ["45^\\circ"]),
    ("50\\%", ["20\\%"]), ("\\{1,2\\}", ["\\{3\\}"]),
])
def test_math_env_refuses_every_gaming_answer(reference, distractors, marker):
    env = gym.make("selfgym/Math-v0", tools=False)

    def passes(answer: str) -> bool:
        env.reset(options={"task": plain_task(reference)})
        return env.step(marker.replace("%s", answer))[1] == 1.0

    try:
        assert_refuses_gaming(passes, reference, distractors)
    finally:
        env.close()


def test_math_env_refuses_gaming_answers_to_the_default_generators():
    env = gym.make("selfgym/Math-v0", tools=False)
    try:
        for name in DEFAULT_GENERATORS:
            # (seed 4: no gold is -1, for which the "range" form "-1-0" is an expression worth -1, a right answer)
            task = ReasoningGymSource(name, 0, seed=4, size=4).task(0)

            def passes(answer: str, task=task) -> bool:
                env.reset(options={"task": task.to_dict()})
                return env.step(f"<answer>{answer}</answer>")[1] == 1.0

            gold = str(task.data["answer"])
            assert_refuses_gaming(passes, gold, generic_distractors(gold))
    finally:
        env.close()


def test_flexible_extraction_reads_one_number_so_a_list_passes_for_one_gold_at_most():
    reply = "It is 2 or maybe 3"
    assert reward_of(reply, "2", extraction="flexible") == 0.0
    assert reward_of(reply, "3", extraction="flexible") == 1.0  # the last number is the answer, as documented


def test_real_set_answers_still_verify():
    for reply in ("\\boxed{\\{2, 1\\}}", "\\boxed{1, 2}", "\\boxed{1} and \\boxed{2}", "Answer: 1 or 2",
                  "<answer>2, 1</answer>"):
        assert reward_of(reply, "\\{1, 2\\}") == 1.0, reply
    assert reward_of("\\boxed{\\{1, 2, 3\\}}", "\\{1, 2\\}") == 0.0
    assert reward_of("\\boxed{(1, 2]}", "(1,2]") == 1.0
    assert reward_of("\\boxed{x = 3}", "3") == 1.0


def test_a_symbolic_generator_task_is_not_passed_by_a_list_two_judges_read_differently():
    # gsm_symbolic's scorer reads the first number, math-verify the last line: once, "a\nb" passed both tasks
    tasks = [ReasoningGymSource("gsm_symbolic", 0, seed=7, size=8).task(i) for i in range(8)]
    first = tasks[0]
    second = next(task for task in tasks if float(task.data["answer"]) != float(first.data["answer"]))
    env = gym.make("selfgym/Math-v0", tools=False)
    try:
        for a, b in ((first, second), (second, first)):
            for separator in ("\n", " = ", " | ", "\n\n"):
                reply = f"<answer>{a.data['answer']}{separator}{b.data['answer']}</answer>"
                rewards = []
                for task in (first, second):
                    env.reset(options={"task": task.to_dict()})
                    rewards.append(env.step(reply)[1])
                assert sum(rewards) <= 1.0, (reply, rewards)
        env.reset(options={"task": first.to_dict()})
        assert env.step(f"\\boxed{{{first.data['answer']}}}")[1] == 1.0
    finally:
        env.close()


def test_an_antiderivative_may_not_carry_another_tasks_answer_in_another_variable():
    # d/dx treats X as a constant: "F(x) + C + G(X) + C" passed both tasks before
    from selfgym.envs.math.answers import judge

    tasks = [ReasoningGymSource("simple_integration", 0, seed=7, size=8).task(i) for i in range(8)]
    by_variable = {task.data["metadata"]["variable"]: task for task in tasks}
    lower, upper = by_variable["x"], by_variable["X"]
    listing = f"{lower.data['answer']} + {upper.data['answer']}"
    assert not judge(lower, listing).correct and not judge(upper, listing).correct
    assert "may use no other variable" in judge(lower, listing).error
    assert judge(lower, lower.data["answer"]).correct and judge(upper, upper.data["answer"]).correct
