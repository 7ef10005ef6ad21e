"""Shared fixtures. Tests marked ``docker`` use the real engine and the real sandbox image.

They fail, not skip, when no engine is reachable: CI must have one. Set SELFGYM_SKIP_DOCKER=1 to skip them
explicitly on a machine without Docker.
"""

from __future__ import annotations

import os

import pytest

from selfgym.sandbox import Limits, Sandbox, SandboxPool, build_image, docker_client

# Small limits so that the hostile programs hit them fast.
TIGHT = Limits(cpus=1.0, memory_mb=128, pids=64, timeout_s=2.0, disk_mb=16, max_output_bytes=64 * 1024)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SELFGYM_SKIP_DOCKER") == "1":
        skip = pytest.mark.skip(reason="SELFGYM_SKIP_DOCKER=1")
        for item in items:
            if "docker" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def client():
    return docker_client()


@pytest.fixture(scope="session")
def sandbox_image(client) -> str:
    """The sandbox image for the current sources (built if missing; a no-op when up to date)."""
    return build_image(client, "python")


@pytest.fixture
def sandbox(client, sandbox_image):
    with Sandbox(sandbox_image, TIGHT, client=client) as sb:
        yield sb


@pytest.fixture(scope="module")
def pool(client, sandbox_image):
    """A pool of 2 sandboxes shared by one test module's envs."""
    with SandboxPool(sandbox_image, size=2, client=client) as shared:
        yield shared


@pytest.fixture
def env_factory(pool):
    """``env_factory(EnvClass, **kwargs)`` makes an env on the shared pool; every env made is closed after the test."""
    made = []

    def make(env_class, **kwargs):
        env = env_class(pool=pool, **kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    """A tiny chat model (Llama-shaped, a 512-token context) built on disk, once per test module."""
    from tiny_models import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def torch_one_thread():
    """One torch thread: on a contended 2-core machine two threads spin against each other (10x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def our_containers(client, **labels: str) -> list:
    filters = [f"{key}={value}" for key, value in labels.items()] + ["selfgym.sandbox=1"]
    return client.containers.list(all=True, filters={"label": filters}, ignore_removed=True)


SIX_SEVENS_PROMPT = "What is 6 * 7?"
ANSWER_42 = '<tool_call>\n{"name": "answer", "arguments": {"answer": "42"}}\n</tool_call>'


@pytest.fixture(scope="session")
def tiny_tool_model(tmp_path_factory):
    """The tests' tiny model with Qwen 2.5's tool-calling template, taught to answer Math-v0's tools with
    ``answer("42")``: asked "What is 6 * 7?" plainly, or as Math-v0's first observation in a rollout."""
    import gymnasium as gym
    from tiny_models import build_tiny_tool_model

    from selfgym.agents.rollout import DEFAULT_SYSTEM_PROMPT
    from selfgym.envs import Task

    env = gym.make("selfgym/Math-v0")
    observation, _ = env.reset(options={"task": Task("six-sevens", "custom", SIX_SEVENS_PROMPT,
                                                     data={"answer": "42"})})
    chats = [[{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": observation}],
             [{"role": "user", "content": SIX_SEVENS_PROMPT}]]
    path = build_tiny_tool_model(tmp_path_factory.mktemp("tiny-tools") / "model", ANSWER_42,
                                 env.unwrapped.tool_schemas(), chats)
    env.close()
    return path
