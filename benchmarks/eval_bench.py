"""Eval throughput: episodes/s of ``selfgym eval`` with 1 and 2 workers, local threads and Ray actors, on a code
suite (the first N HumanEval problems) played by the scripted oracle, so every episode runs the full verifier in a
sandbox and no model time is counted.

    .venv/bin/python benchmarks/eval_bench.py [--tasks 80] [--modes local:1 local:2 ray:1 ray:2] [--json out.json]

Two rates per mode: *steady* (episodes between the first and the last one logged, over that time: what more
workers buy once they are up) and *end to end* (all episodes over the whole run, starting sandboxes and actors
included). Ray runs on a local cluster of as many CPUs as the largest Ray mode has workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from selfgym.eval import make_executor, run_eval
from selfgym.sandbox import build_image, docker_client


def suite_file(folder: Path, tasks: int) -> Path:
    path = folder / "bench.yaml"
    path.write_text(f"name: bench\nversion: 1\nattempts: 1\ntask_sets:\n  - {{name: humaneval, env: selfgym/Code-v0, "
                    f"env_kwargs: {{max_attempts: 1}}, limit: {tasks}}}\n")
    return path


def measure(suite: Path, mode: str, folder: Path) -> dict:
    kind, workers = mode.split(":")
    out = folder / mode.replace(":", "-")
    shutil.rmtree(out, ignore_errors=True)
    executor = make_executor(kind, int(workers))
    started = time.perf_counter()
    summary = run_eval(suite, "scripted:oracle", out, executor=executor, progress=False)
    total = time.perf_counter() - started
    finished = sorted(json.loads(line)["meta"]["eval"]["finished_at"]
                      for line in (out / "episodes.jsonl").read_text().splitlines())
    episodes = len(finished)
    steady = (episodes - 1) / (finished[-1] - finished[0]) if finished[-1] > finished[0] else float("nan")
    return {"mode": mode, "episodes": episodes, "solved": summary["results"]["successes"],
            "steady_eps": steady, "end_to_end_eps": episodes / total, "seconds": total,
            "replaced": getattr(executor, "replaced", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=80, help="HumanEval problems (one episode each)")
    parser.add_argument("--modes", nargs="+", default=["local:1", "local:2", "ray:1", "ray:2"])
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    build_image(docker_client(), "python")
    console = Console()
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfgym-eval-bench-") as tmp:
        folder = Path(tmp)
        suite = suite_file(folder, args.tasks)
        ray_workers = [int(m.split(":")[1]) for m in args.modes if m.startswith("ray:")]
        if ray_workers:
            import ray

            ray.init(num_cpus=max(ray_workers), include_dashboard=False, log_to_driver=False)
        try:
            for mode in args.modes:
                rows.append(measure(suite, mode, folder))
                console.print(rows[-1])
        finally:
            if ray_workers:
                ray.shutdown()
    table = Table("mode", "episodes", "solved", "steady ep/s", "end-to-end ep/s", "speed-up (steady)",
                  title=f"selfgym eval: {args.tasks} HumanEval episodes, scripted oracle, {os.cpu_count()} CPUs")
    base = {kind: next((r["steady_eps"] for r in rows if r["mode"] == f"{kind}:1"), None) for kind in ("local", "ray")}
    for row in rows:
        one = base[row["mode"].split(":")[0]]
        table.add_row(row["mode"], str(row["episodes"]), str(row["solved"]), f"{row['steady_eps']:.2f}",
                      f"{row['end_to_end_eps']:.2f}", f"{row['steady_eps'] / one:.2f}x" if one else "-")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "load": os.getloadavg(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
