"""Math answers: extraction, equivalence judged by math-verify (and the fast path before it), deadlines that
hold off the main thread, and reasoning-gym scorers kept from running model output as code."""

from __future__ import annotations

import inspect
import json
import os
import resource
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selfgym.envs.math import answers
from selfgym.envs.math.answers import extract_answer, judge, verify_answer
from selfgym.envs.math.exact import plain_number
from selfgym.envs.math.generators import (
    EVAL_SCORERS,
    PARSE_EXPR_SCORERS,
    SYMBOLIC_GENERATORS,
    ReasoningGymSource,
    generator_names,
)
from selfgym.envs.math.verifier import (
    VerificationTimeout,
    VerifierError,
    VerifierPool,
    VerifierProcess,
    available_cpus,
    default_verifier,
)

# --- extraction ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply, expected", [
    ("so the result is \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
    ("first \\boxed{1}, then corrected: \\boxed{2}", "2"),
    ("nested \\boxed{\\frac{\\sqrt{2}}{\\{2\\}}} done", "\\frac{\\sqrt{2}}{\\{2\\}}"),
    ("\\fbox{7}", "7"),
    ("$\\boxed 5$", "5"),
    ("<answer>\n3 1 2\n2 3 1\n</answer>", "3 1 2\n2 3 1"),
    ("<answer>4</answer> and \\boxed{9}", "4"),  # explicit answer tags come first
    ("<answer> The cat sat. </answer>", "The cat sat."),  # kept as written: a scorer may compare exactly
    ("Working...\nAnswer: $42$.", "42"),
    ("**Final Answer:** 17", "17"),
    ("The answer is: 3.5", "3.5"),
    ("Natalia sold 48 + 24 = 72 clips.\n#### 72", "72"),
    ("unclosed \\boxed{1 and then\nAnswer: 8", "8"),
])
def test_the_final_answer_is_found(reply, expected):
    assert extract_answer(reply) == expected


@pytest.mark.parametrize("reply", ["", "   ", "I think it is 5", "\\boxed{}", "<answer>  </answer>", "\\boxed{1"])
def test_no_final_answer_is_none(reply):
    assert extract_answer(reply) is None


@pytest.mark.timeout(60)  # a quadratic scan of these takes minutes; a linear one, milliseconds
@pytest.mark.parametrize("reply", [
    "\\boxed{" * 9_000, "<answer>" * 8_000, "<python>" * 8_000, "Answer:" + " \t" * 30_000 + "x",
    "\\boxed" + "{" * 60_000, "<python>```python\n" + "```" * 20_000 + "</python>",
])
def test_hostile_replies_are_scanned_in_linear_time(reply):
    from selfgym.envs.math.python_tool import python_blocks
    for _ in range(20):
        extract_answer(reply)
        python_blocks(reply)


# --- equivalence -------------------------------------------------------------------------------------------------

EQUIVALENT = [
    # fractions and decimals
    ("\\frac{1}{2}", "0.5"), ("1/2", "\\dfrac{1}{2}"), ("0.75", "3/4"), ("\\frac{1}{3}", "0.333333"), ("2", "2.0"),
    ("-\\frac{3}{4}", "-0.75"),
    # radicals and expressions
    ("\\sqrt{8}", "2\\sqrt{2}"), ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), ("x^2-1", "(x-1)(x+1)"),
    ("2x+1", "1+2x"), ("\\frac{\\pi}{2}", "\\pi/2"), ("2^{10}", "1024"), ("\\log_2 8", "3"),
    # intervals and sets
    ("(1,2]", "(1, 2]"), ("[0,\\infty)", "[0, \\infty)"), ("\\{1,2,3\\}", "\\{3,2,1\\}"), ("1,2", "2,1"),
    # percentages
    ("50\\%", "0.5"), ("50\\%", "50"), ("12.5\\%", "\\frac{1}{8}"),
    # units and currency text
    ("10", "10 dollars"), ("5", "5\\text{ cm}"), ("5", "\\$5"), ("72", "72 apples"), ("3.5", "3.5 hours"),
    ("12", "12 \\text{ inches}"), ("90", "90^\\circ"), ("1000", "1,000"),
    # equations, choices, big numbers
    ("x=3", "3"), ("3", "x = 3"), ("\\text{(A)}", "A"),
    ("123456789012345678901234567890", "123,456,789,012,345,678,901,234,567,890"),
]
NOT_EQUIVALENT = [
    ("\\frac{1}{2}", "0.51"), ("\\frac{1}{3}", "0.33"), ("0.1", "0.10001"), ("\\frac{1}{2}", "\\frac{2}{1}"),
    ("\\sqrt{8}", "3\\sqrt{2}"), ("x^2-1", "(x-1)^2"), ("5", "5x"),
    ("(1,2]", "[1,2]"), ("(1,2]", "(1,2)"), ("\\{1,2,3\\}", "\\{1,2\\}"), ("1,2", "1,3"),
    ("50\\%", "0.05"),
    ("10", "11 dollars"), ("3", "3 pi"), ("3", "3\\pi"),
    ("x=3", "x=4"), ("2", "-2"), ("123456789012345678901234567890", "123456789012345678901234567891"),
]


@pytest.mark.parametrize("gold, answer", EQUIVALENT)
def test_equivalent_answers_are_right(gold, answer):
    verdict = verify_answer(gold, answer)
    assert verdict.correct and verdict.error is None, verdict


@pytest.mark.parametrize("gold, answer", NOT_EQUIVALENT)
def test_different_answers_are_wrong(gold, answer):
    verdict = verify_answer(gold, answer)
    assert not verdict.correct and verdict.error is None, verdict


def test_plain_numbers_are_decided_without_the_verifier_process():
    assert verify_answer("1,250.50", "1250.5").method == "numeric"
    assert verify_answer("7", "7").method == "exact"
    assert verify_answer("\\frac{-3}{4}", "-0.75").method == "numeric"
    assert verify_answer("\\left( 1, \\dfrac{1}{2} \\right]", "(1,\\frac{1}{2}]").method == "exact"
    assert verify_answer("\\pi r", "\\pir").method == "math-verify"  # spacing between letters is meaningful
    assert verify_answer("\\sqrt{2}", "2^{1/2}").method == "math-verify"
    # very long numbers are compared exactly; absurd exponents are not expanded here (the worker has a deadline)
    assert verify_answer("9" * 10_000, "9" * 9_999 + "8").method == "numeric"
    assert plain_number("1e99999") is None and plain_number("2e3") is None  # math-verify reads e as Euler's number


def test_an_answer_that_hangs_sympy_times_out_as_wrong_and_the_verifier_recovers():
    started = time.monotonic()
    verdict = verify_answer("2", "10^{10^{10}}", timeout_s=1.0)
    assert not verdict.correct and "timed out after 1 s" in verdict.error
    assert time.monotonic() - started < 1.0 + answers.DEFAULT_TIMEOUT_S
    assert verify_answer("\\frac{\\pi}{4}", "\\pi/4").correct


def test_too_long_answers_are_wrong_without_sympy():
    verdict = verify_answer("x", "x+" * 2_000 + "0")
    assert not verdict.correct and "at most" in verdict.error


def test_verification_works_off_the_main_thread():
    pairs = [("\\sqrt{12}", "2\\sqrt{3}"), ("(0,1)", "(0, 1)"), ("\\frac{2}{3}", "0.666667"), ("x+y", "y+x")] * 4
    with ThreadPoolExecutor(max_workers=4) as threads:
        verdicts = list(threads.map(lambda pair: verify_answer(*pair), pairs))
    assert all(verdict.correct for verdict in verdicts), verdicts


# --- the worker's deadline and recovery --------------------------------------------------------------------


def test_a_worker_stuck_where_no_timer_reaches_is_killed_and_replaced():
    verifier = VerifierProcess(prepare_timeout_s=1.0)
    try:
        assert verifier.call({"op": "math", "gold": "1/2", "answer": "0.5"}, 5.0)["correct"]
        stuck = verifier.pid
        os.kill(stuck, signal.SIGSTOP)  # no signal handler runs in a stopped process: like C code that never yields
        started = time.monotonic()
        with pytest.raises(VerificationTimeout):
            verifier.call({"op": "math", "gold": "1", "answer": "1"}, 0.5)
        assert time.monotonic() - started < 10
        assert verifier.pid is None  # killed
        assert verifier.call({"op": "math", "gold": "\\sqrt{4}", "answer": "2"}, 5.0)["correct"]
        assert verifier.pid != stuck and verifier.generation == 2
        os.kill(verifier.pid, signal.SIGKILL)  # a crash between calls: the next call starts a new worker
        while verifier._process.poll() is None:
            time.sleep(0.01)
        assert verifier.call({"op": "math", "gold": "3", "answer": "3.0"}, 5.0)["correct"]
    finally:
        verifier.close()


def test_a_process_holding_more_than_1024_open_files_can_judge():
    # a server with thousands of sockets: select.select() refuses any descriptor above 1,023
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    verifier = VerifierProcess(prepare_timeout_s=1.0)
    try:
        assert verifier.call({"op": "math", "gold": "1/2", "answer": "0.5"}, 5.0)["correct"]
        assert verifier._process.stdout.fileno() > 1024 and verifier._process.stdin.fileno() > 1024
        os.kill(verifier.pid, signal.SIGSTOP)  # a wedged worker is still killed at its deadline and replaced
        with pytest.raises(VerificationTimeout):
            verifier.call({"op": "math", "gold": "1", "answer": "1"}, 0.2)
        assert verifier.call({"op": "math", "gold": "2", "answer": "2"}, 5.0)["correct"]
    finally:
        verifier.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_worker_that_stops_reading_its_requests_is_replaced():
    verifier = VerifierProcess(prepare_timeout_s=1.0)
    try:
        assert verifier.call({"op": "math", "gold": "1/2", "answer": "0.5"}, 5.0)["correct"]
        stuck = verifier.pid
        os.kill(stuck, signal.SIGSTOP)
        # more than a pipe holds: the write itself would block forever on a worker that reads nothing
        with pytest.raises(VerifierError, match="stopped reading"):
            verifier.call({"op": "math", "gold": "1", "answer": "1" * 200_000}, 0.5)
        assert verifier.pid is None
        assert verifier.call({"op": "math", "gold": "3", "answer": "3"}, 5.0)["correct"]
        assert verifier.pid != stuck
    finally:
        verifier.close()


def test_a_selfgym_folder_in_the_working_directory_cannot_stand_in_for_the_worker(tmp_path, monkeypatch):
    # "python -m" would put the working directory first on sys.path: a folder there named selfgym would be the judge
    fake = tmp_path / "selfgym" / "envs" / "math"
    fake.mkdir(parents=True)
    for folder in (tmp_path / "selfgym", tmp_path / "selfgym" / "envs", fake):
        (folder / "__init__.py").write_text("")
    (fake / "worker.py").write_text(
        "import json, sys\nprint(json.dumps({'ready': True}), flush=True)\n"
        "for line in sys.stdin:\n    print(json.dumps({'correct': True, 'read': True}), flush=True)\n")
    monkeypatch.chdir(tmp_path)
    verifier = VerifierProcess()
    try:
        assert verifier.call({"op": "math", "gold": "\\sqrt{2}", "answer": "\\sqrt{3}"}, 5.0)["correct"] is False
    finally:
        verifier.close()


def test_output_printed_by_judged_code_does_not_break_the_protocol():
    # reasoning-gym's bf generator prints while it generates; the worker sends replies on a private descriptor
    task = ReasoningGymSource("bf", 0, seed=2, size=5).task(1)
    assert judge(task, task.data["answer"]).correct


# --- reasoning-gym scoring ------------------------------------------------------------------------------------


def test_scorers_that_eval_answers_run_no_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    for name in sorted(EVAL_SCORERS - {"number_sorting"}):
        task = ReasoningGymSource(name, 0, seed=1, size=5).task(0)
        assert not judge(task, payload).correct
        assert judge(task, task.data["answer"]).correct, name  # the real answer is still read right
    sorted_numbers = ReasoningGymSource("number_sorting", 0, seed=1, size=5).task(0)
    assert judge(sorted_numbers, sorted_numbers.data["answer"]).correct  # its gold list is literal_eval'd
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(PARSE_EXPR_SCORERS))
def test_scorers_that_parse_answers_as_python_only_see_arithmetic(name, tmp_path):
    marker = tmp_path / "pwned"
    task = ReasoningGymSource(name, 0, seed=3, size=5).task(0)
    # builds "import os; os.system('touch <marker>')" from character codes: no quotes, no underscores
    code = "+".join(f"chr({ord(c)})" for c in f"import os; os.system('touch {marker}')")
    verdict = judge(task, f"exec({code})")
    assert not verdict.correct and "unknown names" in verdict.error
    assert not marker.exists()
    if task.data["answer"] is not None:
        assert judge(task, task.data["answer"]).correct


def test_every_scorer_that_evaluates_text_is_reviewed():
    """A new reasoning-gym version with a new eval/parse_expr scorer must be looked at (and listed) first."""
    from reasoning_gym.factory import DATASETS
    evaluating = re.compile(r"\beval\(|\bexec\(|parse_expr\(|sympify\(")
    # these evaluate only their own generated text (questions, bundled programs), never an answer
    generation_only = {"basic_arithmetic", "bitwise_arithmetic", "codeio", "gsm_symbolic", "propositional_logic"}
    found = set()
    for name, (dataset_cls, _) in DATASETS.items():
        if evaluating.search(inspect.getsource(sys.modules[dataset_cls.__module__])):
            found.add(name)
    assert found - generation_only == EVAL_SCORERS | PARSE_EXPR_SCORERS


def test_a_hung_scorer_times_out_as_wrong():
    task = ReasoningGymSource("countdown", 0, seed=1, size=5).task(0)
    verdict = judge(task, "9**9**9**9", timeout_s=1.0)
    assert not verdict.correct and "timed out" in verdict.error
    assert judge(task, task.data["answer"]).correct


def test_symbolic_generators_accept_equivalent_forms_others_keep_their_format():
    chain = ReasoningGymSource("basic_arithmetic", 0, seed=5, size=5).task(0)
    gold = int(chain.data["answer"])
    assert "basic_arithmetic" in SYMBOLIC_GENERATORS
    assert judge(chain, f"\\frac{{{2 * gold}}}{{2}}").correct
    fraction = ReasoningGymSource("fraction_simplification", 0, seed=5, size=5).task(0)
    numerator, denominator = map(int, re.findall(r"\d+", fraction.data["answer"]))
    unreduced = f"\\frac{{{numerator * 3}}}{{{denominator * 3}}}"
    assert not judge(fraction, unreduced).correct  # equal in value, but the task asks for lowest terms
    assert judge(fraction, f"{numerator}/{denominator}").correct


def test_verdicts_are_cached_and_failures_are_not():
    answers.clear_verification_cache()
    verify_answer("\\sqrt{18}", "3\\sqrt{2}")
    hits = answers._cached_verdict.cache_info().hits
    verify_answer("\\sqrt{18}", "3\\sqrt{2}")
    assert answers._cached_verdict.cache_info().hits == hits + 1
    verify_answer("2", "10^{10^{10}}", timeout_s=0.5)
    assert answers._cached_verdict.cache_info().currsize == 1  # the timeout was not remembered


def test_generator_names_cover_reasoning_gym():
    assert len(generator_names()) >= 100 and "composite" not in generator_names()


def test_verification_is_thread_safe_under_contention():
    results = []
    barrier = threading.Barrier(6)

    def check(i: int) -> None:
        barrier.wait()
        results.append(verify_answer(f"\\sqrt{{{2 * i * i}}}", f"{i}\\sqrt{{2}}").correct)

    threads = [threading.Thread(target=check, args=(i,)) for i in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 6


# --- the same verdicts as math-verify -----------------------------------------------------------------------

PAIRS_FILE = Path(__file__).parent / "data" / "math_pairs.jsonl"
# The project's one extension to math-verify: a plain number followed by unit words is that number.
UNIT_WORDS_EXTENSION = {("10", "10 dollars")}


def plain_math_verify(gold: str, answer: str) -> bool:
    """math-verify as its README calls it, in this (main) thread, on both texts in math mode."""
    from math_verify import parse, verify
    return bool(verify(parse(f"${gold}$"), parse(f"${answer}$")))


def test_the_pair_set_covers_many_forms_both_ways():
    rows = [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300 and len({(row["gold"], row["answer"]) for row in rows}) == len(rows)
    kinds = {row["kind"] for row in rows}
    assert {"fractions", "radicals", "intervals", "sets", "matrices", "degrees", "percentages", "scientific",
            "expressions", "listings"} <= kinds
    for kind in kinds - {"listings"}:  # listings are (nearly) all unequal by design
        verdicts = {row["math_verify"] for row in rows if row["kind"] == kind}
        assert verdicts == {True, False}, kind


def test_verdicts_equal_plain_math_verify_on_the_pair_set():
    rows = [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    answers.clear_verification_cache()
    with ThreadPoolExecutor(max_workers=4) as threads:  # concurrently, as GRPO groups and eval workers ask
        ours = list(threads.map(lambda row: verify_answer(row["gold"], row["answer"]), rows))
    differ = []
    for row, verdict in zip(rows, ours):
        reference = plain_math_verify(row["gold"], row["answer"])
        assert reference == row["math_verify"], f"math-verify changed its verdict on {row}: run make_math_pairs.py"
        if verdict.correct != reference or verdict.error is not None:
            differ.append((row["gold"], row["answer"], reference, verdict))
    assert differ == []
    assert {verdict.method for verdict in ours} == {"exact", "numeric", "math-verify"}


def test_verdicts_equal_plain_math_verify_on_the_equivalence_table():
    differ = {(gold, answer) for gold, answer in EQUIVALENT + NOT_EQUIVALENT
              if verify_answer(gold, answer).correct != plain_math_verify(gold, answer)}
    assert differ == UNIT_WORDS_EXTENSION


def test_two_stage_parsing_gives_the_parses_of_full_context_parsing():
    import sympy
    from math_verify import parse

    from selfgym.envs.math.worker import two_stage_parsing

    rows = [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    texts = sorted({f"${row[side]}$" for row in rows for side in ("gold", "answer")})
    texts += ["$x = 3 = 2$", "$2 \\\\ 3$", "$\\frac{1}{2$", "$)($", "$\\begin{cases} 1 \\\\ 2 \\end{cases}$"]

    def parses() -> list[str]:
        return [repr([sympy.srepr(value) if not isinstance(value, str) else value
                      for value in parse(text, parsing_timeout=None)]) for text in texts]

    full = parses()
    with two_stage_parsing():
        two_stage = parses()
    assert [t for t, a, b in zip(texts, full, two_stage) if a != b] == []


# --- the verifier pool ---------------------------------------------------------------------------------------


def test_the_pool_size_defaults_to_the_cpus_this_process_may_use(monkeypatch):
    assert VerifierPool().size == len(os.sched_getaffinity(0)) == available_cpus()
    monkeypatch.setenv("SELFGYM_VERIFIER_PROCESSES", "3")
    from selfgym.envs.math.verifier import _configured_size
    assert _configured_size() == 3
    monkeypatch.setenv("SELFGYM_VERIFIER_PROCESSES", "many")
    with pytest.raises(ValueError, match="SELFGYM_VERIFIER_PROCESSES must be a whole number"):
        _configured_size()
    with pytest.raises(ValueError, match="size >= 1"):
        VerifierPool(0)


def test_a_sequential_caller_keeps_one_worker_and_concurrent_ones_are_judged_in_parallel():
    with VerifierPool(2) as pool:
        for i in range(5):
            assert pool.call({"op": "math", "gold": f"\\sqrt{{{4 * i * i}}}", "answer": f"{2 * i}"}, 5.0)["correct"]
        assert len(pool.pids) == 1
        # a judgement that runs to its deadline does not hold up another one: that one is served by a second worker
        outcome = []

        def hang() -> None:
            try:
                # its deadline leaves the second worker time to start on a loaded machine
                pool.call({"op": "math", "gold": "2", "answer": "10^{10^{10}}"}, 8.0)
            except VerificationTimeout as exc:
                outcome.append(exc)

        slow = threading.Thread(target=hang)
        slow.start()
        while len(pool._idle) > 0:  # the first worker has taken the slow request
            time.sleep(0.01)
        assert pool.call({"op": "math", "gold": "\\frac{1}{2}", "answer": "0.5"}, 5.0)["correct"]
        assert slow.is_alive()  # still stuck on its judgement while the other one was answered
        slow.join()
        assert len(outcome) == 1 and len(pool.pids) == 2


def test_a_gold_answer_goes_to_the_worker_that_has_it_parsed_else_to_its_home_worker():
    import zlib

    with VerifierPool(2) as pool:
        first, second = VerifierProcess(), VerifierProcess()
        pool._workers, pool._idle = [first, second], [first, second]
        home = pool._workers[zlib.crc32(b"gold:y") % 2]
        assert pool._take("gold:y") is home  # never served: its home, so its next requests find it parsed
        pool._idle.append(home)
        other = second if home is first else first
        other.remember("gold:y")
        assert pool._take("gold:y") is other  # served by the other worker since: that one has it parsed


def test_a_forked_child_starts_its_own_worker_and_leaves_the_parents_alone():
    assert verify_answer("\\sqrt{50}", "5\\sqrt{2}").correct
    parent_pool, parent_pids = default_verifier(), default_verifier().pids
    assert parent_pids
    child = os.fork()
    if child == 0:  # the child: a new pool, its own worker, never the parent's pipes
        try:
            fine = (default_verifier() is not parent_pool and default_verifier().pids == []
                    and verify_answer("\\sqrt{72}", "6\\sqrt{2}").correct
                    and not set(default_verifier().pids) & set(parent_pids))
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into pytest
            fine = False
        os._exit(0 if fine else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert default_verifier() is parent_pool and parent_pool.pids == parent_pids
    assert verify_answer("\\sqrt{98}", "7\\sqrt{2}").correct


def test_workers_are_stopped_when_the_process_exits():
    script = ("from selfgym.envs.math.answers import verify_answer\n"
              "from selfgym.envs.math.verifier import default_verifier\n"
              "assert verify_answer('\\\\sqrt{8}', '2\\\\sqrt{2}').correct\n"
              "print(default_verifier().pids[0])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    worker = int(done.stdout.split()[-1])
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
