"""Generation and rollout speed of HFPolicy: batched vs. one-by-one generation, and rollouts/s on Math-v0.

    .venv/bin/python benchmarks/rollout_bench.py [--model smollm2] [--prompts 16] [--max-new-tokens 32]

``--model`` is any checkpoint path or hub name; the default, ``tiny``, builds a tiny random Llama locally (as
the tests do), ``smollm2`` is the embedded SmolLM2-135M-Instruct. Runs on CUDA in bf16 when present.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents import HFPolicy, Sampling, rollout_batch
from selfgym.curricula.families import ReasoningGymFamily


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    console = Console()
    if args.model == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_models import build_tiny_chat_model

        model = build_tiny_chat_model(Path(tempfile.mkdtemp()) / "tiny")
    else:
        model = args.model
    # min_new_tokens would need a backend knob; greedy with a fixed budget is what the comparison needs
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.0)
    policy = HFPolicy(model, sampling=sampling, batch_size=args.prompts)
    family = ReasoningGymFamily("basic_arithmetic", 1)
    rng = np.random.default_rng(0)
    tasks = [family.make(0, rng) for _ in range(args.prompts)]
    conversations = [[{"role": "user", "content": task.prompt}] for task in tasks]
    policy.act_batch(conversations[:2])  # warm-up

    rows = []
    start = time.perf_counter()
    single = [policy.act_with_info(messages) for messages in conversations]
    seconds = time.perf_counter() - start
    rows.append(("one by one", sum(c.completion_tokens for c in single), seconds))
    start = time.perf_counter()
    batched = policy.act_batch_with_info(conversations)
    seconds = time.perf_counter() - start
    rows.append((f"batched ({args.prompts} at once)", sum(c.completion_tokens for c in batched), seconds))
    table = Table("generation", "tokens", "seconds", "tokens/s", title=f"HFPolicy {policy.name} on {policy.device}")
    for name, tokens, secs in rows:
        table.add_row(name, str(tokens), f"{secs:.2f}", f"{tokens / secs:.1f}")
    console.print(table)

    envs = [gym.make("selfgym/Math-v0", max_steps=1, tools=False).unwrapped for _ in range(args.prompts)]
    start = time.perf_counter()
    trajectories = rollout_batch(envs, policy, tasks, seeds=list(range(len(tasks))))
    seconds = time.perf_counter() - start
    for env in envs:
        env.close()
    env_share = sum(step.env_seconds for t in trajectories for step in t.steps) / len(envs) / seconds
    console.print(f"rollouts: {len(trajectories) / seconds:.2f} episodes/s with {len(envs)} envs in lockstep "
                  f"({seconds:.2f} s; env steps {env_share:.0%} of the wall time, the rest generation)")


if __name__ == "__main__":
    main()
