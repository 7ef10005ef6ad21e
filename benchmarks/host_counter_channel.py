"""How much a host-wide kernel counter carries from one episode to the next, measured: the residual side channel
that fresh namespaces cannot close (only a separate kernel, ``Limits(runtime="runsc")``, does).

    .venv/bin/python benchmarks/host_counter_channel.py [--trials 30] [--modulus 64]

The sender (episode N of a Shell-v0 sandbox) reads the machine's fork count (``processes`` in ``/proc/stat``) and
forks until the count modulo ``--modulus`` equals a secret; the receiver (episode N+1, same container, after a
reset) reads the count modulo ``--modulus``. Every fork on the machine between the two reads is noise. Prints how
often the receiver got the secret exactly and within +-2, the median offset, and the machine's load: the channel
is as clean as the machine is quiet.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics

import gymnasium as gym

import selfgym  # noqa: F401 - registers the ids
from selfgym.sandbox import SandboxPool, build_image, docker_client

READ = "awk '/^processes/ {print $2}' /proc/stat"
SEND = ("m=%d; s=%d; n=$(" + READ + "); while [ $(( n %% m )) -ne $s ]; do /bin/true; n=$(" + READ +
        "); done; echo sent $n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--modulus", type=int, default=64)
    args = parser.parse_args()
    client = docker_client()
    image = build_image(client, "python")
    rng = random.Random(0)
    offsets = []
    with SandboxPool(image, size=1, client=client) as pool:
        env = gym.make("selfgym/Shell-v0", pool=pool, max_steps=2)
        try:
            for _ in range(args.trials):
                secret = rng.randrange(args.modulus)
                env.reset(options={"task_id": "shell/files-001"})
                env.step(SEND % (args.modulus, secret))
                env.reset(options={"task_id": "shell/files-001"})
                observation, *_ = env.step(READ)
                received = int(observation.split()[0]) % args.modulus
                offsets.append((received - secret) % args.modulus)
        finally:
            env.close()
    exact = sum(offset == 0 for offset in offsets) / len(offsets)
    near = sum(min(offset, args.modulus - offset) <= 2 for offset in offsets) / len(offsets)
    print(f"{args.trials} trials, modulus {args.modulus}, load {os.getloadavg()[0]:.1f}: exact {exact:.0%}, "
          f"within +-2 {near:.0%}, median offset {statistics.median(offsets)}, offsets {offsets}")


if __name__ == "__main__":
    main()
