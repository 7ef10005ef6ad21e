"""The quickstart's fine-tuning phase on the CPU with and without gradient checkpointing, interleaved.

    .venv/bin/python benchmarks/sft_checkpointing_bench.py [--rounds 2] [--examples 32] [--epochs 1]

The embedded SmolLM2-135M-Instruct is fine-tuned (``finetune``: LoRA through TRL's SFTTrainer, batch 4, as the
quickstart) on ``--examples`` quickstart-like examples (a one-digit sum, answered ``\\boxed{N}``), alternately
without and with gradient checkpointing (TRL's default, which recomputes every forward in the backward pass),
each round from a freshly loaded model. Prints seconds per optimizer step of each run, and the 1-minute load
before each (other processes share the cores: compare only runs of one invocation).
"""

from __future__ import annotations

import argparse
import os
import time

from selfgym.agents.hf import HFPolicy
from selfgym.agents.self_training import finetune
from selfgym.agents.self_training_config import SelfTrainConfig

SYSTEM = "Reply with only the final answer, in the form \\boxed{ANSWER}."


def examples(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = i % 5, (3 * i) % 5
        rows.append({"prompt": [{"role": "system", "content": SYSTEM},
                                {"role": "user", "content": f"What is {a} + {b}?"}],
                     "completion": [{"role": "assistant", "content": f"\\boxed{{{a + b}}}"}]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    data = examples(args.examples)
    steps = -(-args.examples // 4) * args.epochs
    for round_ in range(args.rounds):
        for checkpointing in (False, True):
            policy = HFPolicy.default()
            load = os.getloadavg()[0]
            started = time.perf_counter()
            finetune(policy, data, SelfTrainConfig(epochs=args.epochs, learning_rate=1e-3,
                                                   gradient_checkpointing=checkpointing), seed=round_)
            seconds = time.perf_counter() - started
            print(f"round {round_}  gradient checkpointing {'on ' if checkpointing else 'off'}  "
                  f"{seconds:7.1f} s  {seconds / steps:6.2f} s/step  (load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()
