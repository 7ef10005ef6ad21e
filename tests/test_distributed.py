"""Rollouts on a Ray cluster of two worker nodes simulated on this machine (``ray.cluster_utils.Cluster``: a
head without CPUs, and two nodes of one CPU and one ``docker`` resource each, so that the two env workers land
one per node). The learner (this process, or a ``selfgym run`` process) keeps the model; the envs live in the
env workers and their sandboxes on the nodes.

Shown here: remote envs play exactly like local ones; a self-training experiment plays on both nodes, and a
learner killed with SIGKILL and resumed logs the same episodes as an uninterrupted run; every other method
plays the same episodes on the cluster as locally; env workers drive another Docker engine over TLS; a GRPO
run whose node is removed mid-episode loses nothing (the episodes of the lost worker are played again on the
other node, and the curriculum hears of each episode once).
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest
import ray
from experiment_runs import episodes_of, killed_resumed_and_straight
from experiment_runs import experiment as shared_experiment
from ray.cluster_utils import Cluster
from tiny_models import build_tiny_chat_model

from selfgym.agents import OraclePolicy, ScriptedPolicy, rollout_batch
from selfgym.runtime.env_workers import WorkerEnv
from selfgym.runtime import ExecutorError, LocalExecutor, RayExecutor
from selfgym.sandbox.reaper import LABEL_PID

pytestmark = pytest.mark.docker

NODE = {"num_cpus": 1, "resources": {"docker": 1}}


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(**NODE) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    cluster.worker_nodes_list = nodes
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_chat_model(tmp_path_factory.mktemp("model") / "tiny")


def worker_nodes(cluster) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes_list}


def summary(trajectories) -> list:
    return [(t.task.id, t.seed, t.error, [(s.action, s.observation, s.reward, s.terminated, s.truncated)
                                          for s in t.steps]) for t in trajectories]


def test_remote_envs_play_like_local_ones_on_both_nodes(cluster, sandbox_image, client):
    wrong = ScriptedPolicy(lambda messages: "```python\ndef add(a, b):\n    return a - b\n```")
    malformed = ScriptedPolicy(lambda messages: "a NUL \x00 in an action")
    runs = {}
    for name, executor in (("local", LocalExecutor()), ("ray", RayExecutor(2, address=cluster.address))):
        with executor:
            envs = executor.make_envs("selfgym/Code-v0", 4, {"max_steps": 2})
            tasks = [envs[0].unwrapped.source.get(f"HumanEval/{i}") for i in range(4)]
            runs[name] = [rollout_batch(envs, policy, tasks, seeds=[0, 1, 2, 3])
                          for policy in (OraclePolicy(), wrong, malformed)]
            if name == "ray":
                assert executor.fleet.resources == {"docker": 1.0}  # nodes offer docker: workers ask for it
                pids = {info["pid"] for info in executor.worker_info}
                remote = envs[0]
                assert isinstance(remote, WorkerEnv) and remote.remote_class.__name__ == "CodeEnv"
                with pytest.raises(ValueError, match="unknown reset option"):  # the worker's error, as it was
                    remote.reset(options={"bogus": 1})
                with pytest.raises(gym.error.ResetNeeded):
                    executor.make_envs("selfgym/Code-v0", 1, {"max_steps": 2})[0].step("anything")
    oracle, wrong_runs, bad = runs["ray"]
    assert [t.success for t in oracle] == [True] * 4
    assert [len(t.steps) for t in wrong_runs] == [2] * 4 and not any(t.success for t in wrong_runs)
    assert all(t.steps[0].info["malformed"] and t.final_reward == 0 for t in bad)  # an observation, no crash
    for local, remote in zip(runs["local"], runs["ray"], strict=True):
        assert summary(local) == summary(remote)  # the same episodes, step by step, wherever the envs run
    placed = [t.meta["worker"] for batch in runs["ray"] for t in batch]
    assert {p["node"] for p in placed} == worker_nodes(cluster)  # the episode log says where each ran
    assert all("worker" not in t.meta for batch in runs["local"] for t in batch)
    left = [c for c in client.containers.list(all=True, filters={"label": "selfgym.sandbox=1"})
            if int(c.labels.get(LABEL_PID, 0)) in pids]
    assert not left, "the env workers' sandboxes outlived the executor"


def test_workers_that_no_node_can_hold_are_one_clear_error(cluster):
    math = ("selfgym/Math-v0", 1, {"max_steps": 1, "tools": False})
    with RayExecutor(1, address=cluster.address, resources={"tpu_pod": 1}) as executor, pytest.raises(
            ExecutorError, match=r"1 env worker needs 1 tpu_pod \(the cluster has 0\)\. Ask for fewer"):
        executor.make_envs(*math)
    with RayExecutor(3, address=cluster.address) as executor, pytest.raises(
            ExecutorError, match=r"need 3 CPU \(the cluster has 2\), 3 docker .*ray start --address"):
        executor.make_envs(*math)


def test_an_env_id_registered_only_by_the_learner_plays_on_the_workers(cluster):
    gym.register("learner-only/Arithmetic-v0", entry_point="selfgym.envs.math_env:MathEnv",
                 kwargs={"max_steps": 1, "tools": False})
    try:
        with RayExecutor(2, address=cluster.address) as executor:
            envs = executor.make_envs("learner-only/Arithmetic-v0", 2)
            trajectories = rollout_batch(envs, OraclePolicy(), seeds=[0, 1])
        assert [t.success for t in trajectories] == [True, True]
    finally:
        del gym.registry["learner-only/Arithmetic-v0"]


def test_remote_envs_offer_the_tools_of_the_env_in_the_worker(cluster):
    with RayExecutor(1, address=cluster.address) as executor:
        with_tools = executor.make_envs("selfgym/Math-v0", 1, {"max_steps": 2})[0]
        without = executor.make_envs("selfgym/Math-v0", 1, {"max_steps": 2, "tools": False})[0]
        local = gym.make("selfgym/Math-v0", max_steps=2)
        try:
            assert with_tools.tool_schemas() == local.unwrapped.tool_schemas() != []
            assert without.tool_schemas() == gym.make("selfgym/Math-v0", tools=False).unwrapped.tool_schemas()
        finally:
            local.close()


def experiment(tmp_path: Path, model: Path, cluster, **overrides) -> Path:
    """The shared small experiment, on both nodes: 16 episodes in steps of 4 (2 per worker)."""
    families = [{"name": "basic_arithmetic", "levels": 2}, {"name": "gcd", "levels": 2}]
    env = {"id": "selfgym/Math-v0", "kwargs": {"max_steps": 1, "tools": False}, "families": families,
           "parallel": 4}
    executor = {"name": "ray", "address": cluster.address, "workers": 2}
    return shared_experiment(tmp_path, model, **{
        "env": env, "method": {"name": "self-training", "train_every": 8, "epochs": 1},
        "budget": {"episodes": 16}, "eval": {"tasks": 4, "every": 8}, "executor": executor, **overrides})


def played(episode: dict) -> tuple:
    """What an episode was, as logged: its task, seed, actions, reward and (Reflexion) trials."""
    return (episode["task"]["id"], episode["seed"], [step["action"] for step in episode["steps"]],
            episode["final_reward"], episode["meta"].get("trials"))


def test_self_training_on_two_nodes_and_a_killed_learner_resumes_to_the_same_episodes(cluster, tmp_path,
                                                                                        tiny_model):
    # The learner, not a worker, is killed: its env workers go with it, and the resumed one starts new ones.
    # It has no Docker engine at all (a GPU node without Docker): only the workers' nodes have one.
    path = experiment(tmp_path, tiny_model, cluster)
    killed_at, after_resume, uninterrupted = killed_resumed_and_straight(
        path, tmp_path / "runs" / "tiny", tmp_path / "straight", kill_at=8, timeout_s=600,
        environment={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert 8 <= killed_at < 16
    assert [e["episode"] for e in after_resume] == list(range(16)) == [e["episode"] for e in uninterrupted]
    assert [played(e) for e in after_resume] == [played(e) for e in uninterrupted]
    assert {e["meta"]["worker"]["node"] for e in uninterrupted} == worker_nodes(cluster)
    assert not any(e["error"] for e in after_resume + uninterrupted)


REPLIES = {"backend": "scripted", "replies": ["\\boxed{3}", "4", "\\boxed{1}"]}  # in turn


# Reflexion with scripted replies: the tiny model's reflection prompts outgrow its context
@pytest.mark.parametrize("method, agent", [({"name": "eval-only"}, None),
                                           ({"name": "reflexion", "trials": 2}, REPLIES)])
def test_other_methods_play_the_same_episodes_on_the_cluster_as_locally(cluster, tmp_path, tiny_model, method,
                                                                         agent):
    from rich.console import Console

    from selfgym.experiments import ExperimentRunner, load_experiment

    episodes = {}
    for executor in ("local", {"name": "ray", "address": cluster.address, "workers": 2}):
        name = "local" if executor == "local" else "ray"
        path = experiment(tmp_path, tiny_model, cluster, name=name, method=method, executor=executor,
                          budget={"episodes": 8}, eval={"tasks": 2}, **({"agent": agent} if agent else {}))
        ExperimentRunner(load_experiment(path), console=Console(quiet=True)).run()
        episodes[name] = episodes_of(load_experiment(path).run_dir)
    assert [played(e) for e in episodes["local"]] == [played(e) for e in episodes["ray"]]
    assert {e["meta"]["worker"]["node"] for e in episodes["ray"]} == worker_nodes(cluster)
    if method["name"] == "reflexion":  # some tasks were solved at once, others after a reflection
        assert {e["meta"]["trials"] for e in episodes["ray"]} == {1, 2}


def test_env_workers_drive_another_docker_engine_over_verified_tls(cluster, tmp_path, sandbox_image):
    from docker_forwarder import EngineForwarder, make_certificates

    certificates = make_certificates(tmp_path / "certs")
    forwarder = EngineForwarder(tls=certificates)
    try:
        with RayExecutor(2, address=cluster.address, docker_host=forwarder.address,
                         docker_cert_path=str(certificates)) as executor:
            envs = executor.make_envs("selfgym/Code-v0", 2, {"max_steps": 1})
            tasks = [envs[0].unwrapped.source.get(f"HumanEval/{i}") for i in range(2)]
            trajectories = rollout_batch(envs, OraclePolicy(), tasks, seeds=[0, 1])
        assert [t.success for t in trajectories] == [True, True]
        assert {t.meta["worker"]["node"] for t in trajectories} == worker_nodes(cluster)
        assert forwarder.connections >= 4  # each worker's API calls and its sandbox's stream came through TLS
    finally:
        forwarder.close()


def test_grpo_on_two_nodes_loses_nothing_when_a_node_dies_mid_episode(cluster, tmp_path, tiny_model,
                                                                        monkeypatch):
    from selfgym.agents import grpo
    from selfgym.experiments import ExperimentRunner, load_experiment

    path = experiment(tmp_path, tiny_model, cluster, name="grpo", budget={"episodes": 8}, eval={"tasks": 2},
                      method={"name": "grpo", "group_size": 2, "tasks_per_step": 2, "learning_rate": 1e-4})
    runner = ExperimentRunner(load_experiment(path))
    generate, victim = grpo.generate_ids, {}

    def generate_then_kill(policy, contexts, sampling):
        # The second step's first replies: every episode is reset on its worker, none stepped yet. Remove one
        # worker node now, and its episodes die mid-episode.
        if runner.state["episodes"] == 4 and not victim:
            node = cluster.worker_nodes_list[-1]
            victim["node"] = node.node_id
            cluster.remove_node(node)
        return generate(policy, contexts, sampling)

    monkeypatch.setattr(grpo, "generate_ids", generate_then_kill)
    try:
        report = runner.run()
    finally:
        cluster.worker_nodes_list = [n for n in cluster.worker_nodes_list if n.node_id != victim.get("node")]
        while len(cluster.worker_nodes_list) < 2:  # the next tests get two nodes again
            cluster.worker_nodes_list.append(cluster.add_node(**NODE))
    assert victim, "the node was not removed"
    run_dir = load_experiment(path).run_dir
    episodes = episodes_of(run_dir)
    assert report["episodes"] == 8 and [e["episode"] for e in episodes] == list(range(8))
    assert not any(e["error"] for e in episodes)  # nothing lost
    first_step, second_step = episodes[:4], episodes[4:]
    assert len({e["meta"]["worker"]["node"] for e in first_step}) == 2  # the first step ran on both nodes
    replayed = [e for e in second_step if e["meta"].get("infra_replays")]
    assert replayed and all(e["meta"]["worker"]["node"] != victim["node"] for e in replayed)
    assert all(e["meta"]["worker"]["node"] != victim["node"] for e in second_step)
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["infra_errors"] for m in metrics] == [0, 0] and metrics[1]["infra_replays"] == len(replayed)
    # the curriculum heard of every episode once: the lost plays are no outcomes
    assert json.loads((run_dir / "curriculum.json").read_text())["episodes"] == 8
