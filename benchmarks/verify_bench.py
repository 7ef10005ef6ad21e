"""Symbolic answer verification throughput: today's verifier (one worker process behind a lock) against the
verifier pool with 1 and 2 worker processes, on the same 300 distinct (gold, answer) pairs, in one run.

    .venv/bin/python benchmarks/verify_bench.py [--pairs 300] [--processes 1 2] [--threads 4] [--repeats 3]
                                                [--baseline REV | --baseline-path DIR] [--json out.json]

The pairs are those of ``tests/data/math_pairs.jsonl`` (fractions, radicals, intervals, sets, matrices, degrees,
percentages, scientific notation, expressions, ...) that today's code sends to math-verify: none of them is two
plain numbers or the same text. Each measurement runs in a fresh Python process: its verifier warms up on
``--warmup`` other pairs of the same kinds that share no gold or answer with them (imports, the parser's
prediction caches, as in a long run), its verdict caches are cleared, then ``--threads`` threads
verify the 300 pairs through ``verify_answer`` (as GRPO groups and eval workers do) and the rate is pairs/s; the CPU
time that process and its workers spent per pair is printed too (it does not depend on the machine's load, the rate
does). The machine's own ceiling is measured too: the same verifications (math-verify, no pool, no threads) in one
bare process, then in two at once; 2 processes / 1 process cannot beat that ratio (on 2 vCPUs that share a physical
core's resources it is well under 2). The baseline is the code of git revision ``--baseline`` (before the pool), extracted with ``git archive``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from baseline import BASELINE_REVISION, REPO, baseline_code

PAIRS_FILE = REPO / "tests" / "data" / "math_pairs.jsonl"


def child(args: argparse.Namespace) -> None:
    """In a fresh process, with the code under test on PYTHONPATH: select or time pairs; prints JSON."""
    import logging

    logging.disable(logging.WARNING)
    from selfgym.envs.math import answers

    if args.child == "select":  # the pairs today's code sends to math-verify
        pairs = json.loads(sys.stdin.read())
        symbolic = [i for i, (gold, answer) in enumerate(pairs)
                    if answers.fast_verdict(answers.clean_answer(gold), answers.strip_units(answers.clean_answer(answer)))
                    is None]
        print(json.dumps(symbolic))
        return
    work = json.loads(sys.stdin.read())
    if args.child == "bare":  # the verifications alone, in this process: what the machine can do
        from selfgym.envs.math.worker import math_judgement

        for pair in work["warmup"]:
            math_judgement(*pair)
        started = time.perf_counter()
        for pair in work["pairs"]:
            math_judgement(*pair)
        print(json.dumps({"seconds": time.perf_counter() - started}))
        return
    if args.child_processes is not None:
        from selfgym.envs.math.verifier import set_verifier_processes
        set_verifier_processes(args.child_processes)
    with ThreadPoolExecutor(max_workers=args.threads) as threads:
        list(threads.map(lambda pair: answers.verify_answer(*pair), work["warmup"]))  # starts every worker
        answers.clear_verification_cache()
        load = os.getloadavg()[0]
        cpu, started = cpu_seconds(), time.perf_counter()
        verdicts = list(threads.map(lambda pair: answers.verify_answer(*pair), work["pairs"]))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(json.dumps({"rate": len(work["pairs"]) / elapsed, "load": load,
                      "cpu_ms_per_pair": cpu * 1000 / len(work["pairs"]),
                      "correct": [verdict.correct for verdict in verdicts],
                      "errors": sum(verdict.error is not None for verdict in verdicts)}))


def cpu_seconds() -> float:
    """CPU time used so far by this process and its verifier workers (a load-independent cost)."""
    import psutil

    me = psutil.Process()
    return sum(sum(process.cpu_times()[:2]) for process in [me, *me.children(recursive=True)])


def run_child(code: Path, stdin: dict | list, *arguments: str) -> dict | list:
    return run_children(code, stdin, arguments, 1)[0]


def run_children(code: Path, stdin: dict | list, arguments: tuple[str, ...], count: int) -> list:
    """``count`` benchmark children at once, each given ``stdin``; their results."""
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as empty:  # the working directory: the baseline's worker (python -m) puts
        # it first on sys.path, and in a checkout it would import today's package instead of the baseline's
        children = [subprocess.Popen([sys.executable, __file__, *arguments], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=empty)
                    for _ in range(count)]
        outputs = [child.communicate(json.dumps(stdin), timeout=1800) for child in children]
    for child, (_, stderr) in zip(children, outputs):
        if child.returncode != 0:
            raise SystemExit(f"benchmark child failed ({code}):\n{stderr[-3000:]}")
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]


def machine_ceiling(work: dict, repeats: int) -> float:
    """How much faster 2 bare processes verify than 1 (median of ``repeats``): the best a pool can scale."""
    ratios = []
    for _ in range(repeats):
        one = run_child(REPO, work, "--child", "bare")["seconds"]
        two = max(result["seconds"] for result in run_children(REPO, work, ("--child", "bare"), 2))
        ratios.append(2 * one / two)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="verifier pool sizes to time")
    parser.add_argument("--threads", type=int, default=4, help="threads asking for verdicts at once")
    parser.add_argument("--warmup", type=int, default=500, help="other pairs verified first in each process")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per configuration (median)")
    parser.add_argument("--baseline", default=BASELINE_REVISION, help="git revision of today's code")
    parser.add_argument("--baseline-path", help="a checkout of today's code instead of --baseline")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", choices=["select", "time", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--child-processes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    sys.path.insert(0, str(PAIRS_FILE.parent))
    from make_math_pairs import pairs as generated_pairs

    rows = [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    all_pairs = [(row["gold"], row["answer"]) for row in rows]
    with tempfile.TemporaryDirectory() as scratch:
        baseline = baseline_code(args.baseline, args.baseline_path, Path(scratch))
        symbolic = run_child(baseline, all_pairs, "--child", "select")
        if len(symbolic) < args.pairs:
            raise SystemExit(f"only {len(symbolic)} symbolic pairs in {PAIRS_FILE}; asked for {args.pairs}")
        pairs = [all_pairs[i] for i in symbolic[:args.pairs]]
        texts = {text for pair in pairs for text in pair}  # the measured golds and answers stay unseen
        warmup = [(row["gold"], row["answer"]) for seed in range(1, 10) for row in generated_pairs(seed=seed)
                  if row["gold"] not in texts and row["answer"] not in texts][:args.warmup]
        work = {"pairs": pairs, "warmup": warmup}
        print(f"{len(os.sched_getaffinity(0))} CPUs; {len(pairs)} distinct symbolic pairs, {args.threads} threads, "
              f"median of {args.repeats} fresh processes each; baseline {args.baseline_path or args.baseline}")
        configurations = [("today (1 process, one lock)", baseline, None)]
        configurations += [(f"pool, {n} process{'es' if n > 1 else ''}", REPO, n) for n in args.processes]
        figures, reference = {}, None
        for name, code, processes in configurations:
            runs = []
            for _ in range(args.repeats):
                extra = ["--child-processes", str(processes)] if processes is not None else []
                runs.append(run_child(code, work, "--child", "time", "--threads", str(args.threads), *extra))
            reference = reference or runs[0]["correct"]
            agree = all(run["correct"] == reference for run in runs)
            rate = statistics.median(run["rate"] for run in runs)
            loads = ", ".join(f"{run['load']:.1f}" for run in runs)
            rates = ", ".join(f"{run['rate']:.0f}" for run in runs)
            cpu = statistics.median(run["cpu_ms_per_pair"] for run in runs)
            figures[name] = {"pairs_per_s": rate, "runs": [run["rate"] for run in runs], "cpu_ms_per_pair": cpu,
                             "load_averages": [run["load"] for run in runs], "same_verdicts": agree}
            print(f"{name:32} {rate:8.1f} pairs/s   {cpu:5.1f} CPU ms/pair   (runs: {rates}; "
                  f"load average {loads}; verdicts {'as today' if agree else 'DIFFER'}; "
                  f"errors {sum(run['errors'] for run in runs)})")
    today = figures["today (1 process, one lock)"]["pairs_per_s"]
    by_size = {n: figures[f"pool, {n} process{'es' if n > 1 else ''}"]["pairs_per_s"] for n in args.processes}
    if 1 in by_size:
        print(f"pool with 1 process / today: {by_size[1] / today:.2f}x")
    if 1 in by_size and 2 in by_size:
        ceiling = machine_ceiling(work, args.repeats)
        figures["machine_ceiling_2_over_1"] = ceiling
        print(f"2 processes / 1 process: {by_size[2] / by_size[1]:.2f}x (goal >= 1.8x; this machine's ceiling: "
              f"{ceiling:.2f}x, two bare processes verifying the same pairs)")
    if 2 in by_size:
        print(f"2 processes / today: {by_size[2] / today:.2f}x (goal >= 2x)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
