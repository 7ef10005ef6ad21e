"""Eval throughput: episodes/s of ``selfgym eval`` with 1 and 2 workers, local threads and Ray actors, on a
code suite (the first N HumanEval problems) played by the scripted oracle, so that every episode runs the full
verifier in a sandbox and no model time is counted.

    .venv/bin/python benchmarks/eval_bench.py [--tasks 80] [--repeats 3] [--modes local:1 local:2 ray:1 ray:2]

Two rates per mode: *steady* (the episodes after the first one, over the time from the first logged to the
last: what more workers buy once they are up) and *end to end* (all episodes over the whole run, starting
sandboxes and actors included). Each mode runs ``--repeats`` times, interleaved with the other modes so that
a change in the machine's load hits them alike; the table shows medians. Ray runs on a local cluster with as
many CPUs as the largest Ray mode has workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from selfgym.runtime import make_executor
from selfgym.eval import run_eval
from selfgym.sandbox import build_image, docker_client


def suite_file(folder: Path, tasks: int) -> Path:
    path = folder / "bench.yaml"
    path.write_text(f"name: bench\nversion: 1\nattempts: 1\ntask_sets:\n  - {{name: humaneval, "
                    f"env: selfgym/Code-v0, env_kwargs: {{max_steps: 1}}, limit: {tasks}}}\n")
    return path


def measure(suite: Path, mode: str, folder: Path) -> dict:
    kind, workers = mode.split(":")
    out = folder / mode.replace(":", "-")
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    executor = make_executor(kind, int(workers))
    summary = run_eval(suite, "scripted:oracle", out, executor=executor, progress=False)
    total = time.perf_counter() - started
    finished = sorted(json.loads(line)["meta"]["eval"]["finished_at"]
                      for line in (out / "episodes.jsonl").read_text().splitlines())
    steady = (len(finished) - 1) / (finished[-1] - finished[0])
    return {"mode": mode, "episodes": len(finished), "solved": summary["results"]["successes"],
            "steady_eps": steady, "end_to_end_eps": len(finished) / total, "seconds": total,
            "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=80, help="HumanEval problems (one episode each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["local:1", "local:2", "ray:1", "ray:2"])
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement here")
    args = parser.parse_args()
    build_image(docker_client(), "python")
    console = Console()
    runs: list[dict] = []
    ray_workers = [int(mode.split(":")[1]) for mode in args.modes if mode.startswith("ray:")]
    with tempfile.TemporaryDirectory(prefix="selfgym-eval-bench-") as tmp:
        suite = suite_file(Path(tmp), args.tasks)
        if ray_workers:
            import ray

            ray.init(num_cpus=max(ray_workers), include_dashboard=False, log_to_driver=False)
        try:
            for _ in range(args.repeats):
                for mode in args.modes:
                    runs.append(measure(suite, mode, Path(tmp)))
                    run = runs[-1]
                    console.print(f"{mode}: {run['steady_eps']:.2f} ep/s steady, {run['end_to_end_eps']:.2f} "
                                  f"end to end (load {run['load']:.1f})")
        finally:
            if ray_workers:
                ray.shutdown()
    medians = {mode: {key: statistics.median(r[key] for r in runs if r["mode"] == mode)
                      for key in ("steady_eps", "end_to_end_eps", "load")} for mode in args.modes}
    table = Table("mode", "solved", "steady ep/s", "end-to-end ep/s", "speed-up (steady)", "load",
                  title=f"selfgym eval: {args.tasks} HumanEval episodes, scripted oracle, "
                        f"{os.cpu_count()} CPUs, median of {args.repeats}")
    for mode, median in medians.items():
        one = medians.get(f"{mode.split(':')[0]}:1")
        solved = {r["solved"] for r in runs if r["mode"] == mode}
        speedup = f"{median['steady_eps'] / one['steady_eps']:.2f}x" if one else "-"
        table.add_row(mode, "/".join(map(str, sorted(solved))), f"{median['steady_eps']:.2f}",
                      f"{median['end_to_end_eps']:.2f}", speedup, f"{median['load']:.1f}")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "medians": medians, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
