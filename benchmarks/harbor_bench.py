"""Shell-v0 on Harbor task directories: selfgym's pooled sandbox against an image and a container per task.

selfgym's own tasks declare ``[metadata.selfgym] environment = "sandbox"``: their environment is the sandbox image
plus a setup script, so an episode takes a warm sandbox from the pool and runs the setup there. The obvious
alternative is what Harbor does with any task: build the task's Dockerfile into an image (once) and start a fresh
container of it for every episode. This benchmark plays the same shipped tasks both ways, on the same machine in
the same run: each task's setup moved into its Dockerfile (``FROM`` the local sandbox image, so it builds offline),
the reference solution, then the verifier. It prints seconds per episode and the first episode's time per task,
which includes building the task's image and selfgym's layer on top the first time the benchmark runs on a machine
(images are tagged by a hash of their content, so later runs find them built).

    python benchmarks/harbor_bench.py [--tasks 8] [--episodes 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from selfgym.envs.harbor import harbor_spec_of, read_task
from selfgym.envs.shell import shipped_tasks
from selfgym.envs.shell_env import ShellEnv
from selfgym.sandbox import SandboxPool, build_image, docker_client

OWN_IMAGE = """FROM {image}
USER root
WORKDIR /work
COPY setup.sh /opt/task/setup.sh
RUN bash -e /opt/task/setup.sh
"""


def own_image_variant(task, root: Path, image: str):
    """The task with its setup built into an image of its own, as a Harbor task would have it."""
    source = Path(harbor_spec_of(task).dir)
    target = root / source.name
    shutil.copytree(source, target)
    (target / "environment/Dockerfile").write_text(OWN_IMAGE.format(image=image))
    toml = target / "task.toml"
    toml.write_text(re.sub(r'(?m)^environment = "sandbox"\n', "", toml.read_text()))
    return read_task(target)


def play(env: ShellEnv, task) -> float:
    started = time.perf_counter()
    env.reset(options={"task": task})
    for action in task.data["solution"]:
        _, reward, terminated, _, _ = env.step(action)
    if reward != 1.0 or not terminated:
        raise RuntimeError(f"{task.id}: the reference solution earned {reward}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args()
    client = docker_client()
    image = build_image(client, "python")
    # tasks whose setup can run at build time (not those that start processes) and runs as root the same
    tasks = [t for t in shipped_tasks() if not harbor_spec_of(t).keep_background
             and t.data["category"] in ("files", "text", "data", "archives")][: args.tasks]
    with SandboxPool(image, size=1, client=client) as pool, tempfile.TemporaryDirectory() as tmp:
        env = ShellEnv(pool=pool)
        pooled = [play(env, task) for task in tasks for _ in range(args.episodes)]
        variants = [own_image_variant(task, Path(tmp), image) for task in tasks]
        builds = []
        for variant in variants:
            started = time.perf_counter()
            play(env, variant)  # the first episode builds the task's image and selfgym's layer
            builds.append(time.perf_counter() - started)
        own = [play(env, variant) for variant in variants for _ in range(args.episodes)]
        env.close()
    print(f"{len(tasks)} shipped tasks x {args.episodes} episodes (reset, reference solution, verifier):")
    print(f"  pooled sandbox + setup script    {statistics.median(pooled):6.2f} s/episode (median)")
    print(f"  own image, fresh container       {statistics.median(own):6.2f} s/episode (median, image built)")
    print(f"  own image, first episode         {statistics.median(builds):6.2f} s/task (median; builds on a first run)")
    print(f"  ratio own/pooled                 {statistics.median(own) / statistics.median(pooled):6.1f}x")


if __name__ == "__main__":
    main()
