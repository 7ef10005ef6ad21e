"""Speed of a GRPO training step: tokens/s, episodes/s, and where the time goes (generation, env, backward).

    .venv/bin/python benchmarks/rl_bench.py [--models tiny smollm2] [--steps 3] [--threads 1] [--out DIR]

Each model trains ``--steps`` GRPO steps of ``tasks × group`` episodes (after one warm-up step that is not
counted) with LoRA, on the device it finds (CUDA with bf16 autocast, else the CPU in fp32):

* ``tiny``: the 2-layer random Llama of the tests on a two-turn format task (reply starting with a digit; a
  retry after feedback), 8-token replies — the trainer's own overhead;
* ``smollm2``: the embedded SmolLM2-135M-Instruct on easy Math-v0 tasks (reasoning-gym ``basic_arithmetic``
  level 0, answers verified by math-verify in the env's worker process), 64-token replies.

Prints one row per model and saves ``rl_bench.json``. On a contended CPU use ``--threads 1``: torch's threads
spinning against other processes' make everything several times slower.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents.grpo import GRPOConfig, GRPOTrainer
from selfgym.agents.hf import HFPolicy
from selfgym.envs import Task, TaskList, TextEnv, Turn
from selfgym.envs.math.generators import ReasoningGymSource

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."
PHASES = ("generation_s", "env_s", "reference_s", "train_s")


class DigitEnv(TextEnv):
    """Reply starting with a digit: reward 1; otherwise feedback and a second try."""

    uses_sandbox = False

    def __init__(self) -> None:
        tasks = [Task(f"d{i}", "digit", f"Reply with a number. ({i})") for i in range(4)]
        super().__init__(TaskList(tasks, "digit"), max_steps=2)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = action[:1].isdigit()
        return Turn("Right." if right else "Wrong: start your reply with a digit.", float(right), right)


def setups(names: list[str], tmp: Path):
    for name in names:
        if name == "tiny":
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from tiny_models import build_tiny_chat_model

            policy = HFPolicy(build_tiny_chat_model(tmp / "tiny"))
            config = GRPOConfig(tasks_per_step=4, group_size=8, max_new_tokens=8, max_episode_tokens=256,
                                learning_rate=1e-3, micro_batch_size=32, tensorboard=False)
            yield name, policy, [DigitEnv() for _ in range(32)], config
        elif name == "smollm2":
            source = ReasoningGymSource("basic_arithmetic", 0, seed=0, size=200)
            envs = [gym.make("selfgym/Math-v0", source=source, max_steps=1, tools=False,
                             extraction="flexible").unwrapped for _ in range(16)]
            config = GRPOConfig(tasks_per_step=2, group_size=8, max_new_tokens=64, max_episode_tokens=512,
                                learning_rate=1e-5, micro_batch_size=8, tensorboard=False,
                                system_prompt=SYSTEM_PROMPT)
            yield name, HFPolicy("smollm2"), envs, config
        else:
            raise SystemExit(f"unknown model {name!r}: choose tiny or smollm2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["tiny", "smollm2"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default="runs/rl-bench")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console(width=150)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    hardware = (torch.cuda.get_device_name() if device == "cuda"
                else f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, policy, envs, config in setups(args.models, Path(tmp)):
            config.steps = args.steps + 1
            trainer = GRPOTrainer(policy, envs, config)
            trainer.train_step()  # warm-up: first-call allocations, the verifier worker's start
            started = time.perf_counter()
            steps = [trainer.train_step() for _ in range(args.steps)]
            wall = time.perf_counter() - started
            totals = {key: float(np.sum([s[key] for s in steps])) for key in PHASES}
            generated = sum(s["generated_tokens"] for s in steps)
            row = {
                "model": name, "device": device, "dtype": "bf16" if trainer.autocast_bf16 else "fp32",
                "episodes_per_step": steps[0]["episodes"], "step_s": wall / args.steps,
                "tokens_per_s": generated / wall, "episodes_per_s": sum(s["episodes"] for s in steps) / wall,
                "generation_tokens_per_s": generated / max(totals["generation_s"], 1e-9),
                "success": float(np.mean([s["success"] for s in steps])),
                **{f"share_{key[:-2]}": totals[key] / wall for key in PHASES},
            }
            rows.append(row)
            for env in envs:
                env.close()
            del trainer, policy

    table = Table("model", "device", "episodes/step", "s/step", "tokens/s", "episodes/s", "generation",
                  "env", "reference", "backward", title=f"GRPO training step ({hardware})")
    for r in rows:
        table.add_row(r["model"], f"{r['device']} {r['dtype']}", str(r["episodes_per_step"]),
                      f"{r['step_s']:.2f}", f"{r['tokens_per_s']:.0f}", f"{r['episodes_per_s']:.1f}",
                      *(f"{r['share_' + key[:-2]]:.0%}" for key in PHASES))
    console.print(table)
    console.print("tokens/s: generated tokens per second of the whole step; the shares are of the step's "
                  "time (the rest: advantages, bookkeeping).")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"hardware": hardware, "torch": torch.__version__, "rows": rows}
    (out / "rl_bench.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
