"""Env workers: envs that live in Ray actors, on any node of a cluster, stepped from the learner.

The learner keeps the policy and generates every reply of a lockstep batch at once; env steps go to *env
workers*. An env worker is a Ray actor that holds envs (one per slot) and, on its node, the sandbox pools they
draw containers from (one per env set, on the node's Docker engine or the one named). The learner gets
:class:`WorkerEnv` proxies: Gymnasium envs whose ``reset`` and ``step`` are calls to the env's worker, so the
rollout loop, the experiment methods and the GRPO trainer play them like local envs (the rollout loop steps
them from threads, so the calls to all workers are in flight at once; each worker serves its slots
concurrently).

Where an env lives: each env has a home worker (its slot, round robin over the workers); a ``reset`` places
the episode on its home when that worker is alive, else on the live worker with the fewest envs. A worker lost
mid-episode (its process or node died: a crash, the OOM killer, a machine gone) loses only the episodes it was
playing: their ``step`` (or ``reset``) raises :class:`WorkerLostError`, an
:class:`~selfgym.sandbox.InfrastructureError`, so the rollout loop records them as lost to the infrastructure
(never the agent's failure, never shown to a curriculum) and plays them again, with the same task and seed, on
a live worker. The lost worker is replaced by a new actor, which Ray places on any node with room; episodes go
back to it once it is up. A worker that fails while starting is a configuration problem, reported as an
:class:`~selfgym.runtime.executors.ExecutorError` rather than replaced for ever.

Each trajectory's ``meta["worker"]`` says where its env ran: the worker's index, Ray node id, host and pid.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from ..envs.pools import env_pool, make_env
from ..sandbox.errors import SandboxError
from .errors import ExecutorError, WorkerLostError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 300.0  # for a worker to be placed and start (imports, on a loaded node)
WORKER_THREADS = 128  # calls an env worker serves at once (one per slot in flight)


@dataclass(frozen=True)
class EnvSet:
    """``size`` envs of ``env_id`` made with ``kwargs``: one :meth:`EnvFleet.make_envs` call. ``key`` tells
    the sets apart in a worker; each worker gives a set a sandbox pool of ``size`` (the most it can host).
    ``registration`` is the id's Gymnasium registration on the learner, for ids a worker process has not
    registered (a user's own env; its module must be importable on the worker's node)."""

    key: str
    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    size: int = 1
    registration: Any = None

    def register(self) -> None:
        """Register the id in this process if it is not yet (selfgym's own ids register on import)."""
        import selfgym  # noqa: F401 - registers selfgym's ids (in a fresh worker process too)

        if self.env_id not in gym.registry and self.registration is not None:
            gym.registry[self.env_id] = self.registration


class EnvWorker:
    """What runs in an env worker actor: envs by (set, slot), made on their first ``reset`` here, and one
    sandbox pool per env set. Calls for different slots run concurrently (a threaded actor)."""

    def __init__(self, index: int, docker_host: str | None = None,
                 docker_cert_path: str | None = None) -> None:
        import ray

        self.engine = {"docker_host": docker_host, "docker_cert_path": docker_cert_path}
        self.info = {"worker": index, "node": ray.get_runtime_context().get_node_id(),
                     "host": socket.gethostname(), "pid": os.getpid()}
        self._pools: dict[str, Any] = {}
        self._envs: dict[tuple[str, int], gym.Env] = {}
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return dict(self.info)

    def _env(self, env_set: EnvSet, slot: int) -> gym.Env:
        with self._lock:  # made once per slot; the pool once per set
            env = self._envs.get((env_set.key, slot))
            if env is None:
                env_set.register()
                if env_set.key not in self._pools:
                    self._pools[env_set.key] = env_pool(env_set.env_id, env_set.size, env_set.kwargs,
                                                        **self.engine)
                env = make_env(env_set.env_id, env_set.kwargs, self._pools[env_set.key])
                self._envs[env_set.key, slot] = env
            return env

    def probe(self, env_set: EnvSet) -> tuple[gym.Space, gym.Space, dict[str, Any], list[dict[str, Any]] | None]:
        """The spaces, metadata and tool schemas (None for an env without tools) of the set's envs (from one made
        for the purpose: it starts no sandbox)."""
        env_set.register()
        env = make_env(env_set.env_id, env_set.kwargs, None)
        try:
            tool_schemas = getattr(env.unwrapped, "tool_schemas", None)
            return (env.observation_space, env.action_space, dict(env.metadata),
                    tool_schemas() if tool_schemas else None)
        finally:
            env.close()

    def source(self, env_set: EnvSet) -> Any:
        """The task source of the set's envs."""
        env_set.register()
        env = make_env(env_set.env_id, env_set.kwargs, None)
        try:
            return env.source
        finally:
            env.close()

    def reset(self, env_set: EnvSet, slot: int, seed: int | None, options: Mapping[str, Any] | None
              ) -> tuple[Any, dict[str, Any], Any]:
        env = self._env(env_set, slot)
        observation, info = env.reset(seed=seed, options=options)
        return observation, info, getattr(env, "task", None)

    def step(self, key: str, slot: int, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        env = self._envs.get((key, slot))
        if env is None:
            raise gym.error.ResetNeeded(f"env {key}/{slot} was not reset on env worker {self.info['worker']}")
        return env.step(action)

    def drop(self, key: str, slot: int) -> None:
        """Close a slot's env (its episodes now run on another worker)."""
        with self._lock:
            env = self._envs.pop((key, slot), None)
        if env is not None:
            env.close()

    def close(self) -> None:
        with self._lock:
            envs, self._envs = list(self._envs.values()), {}
            pools, self._pools = [p for p in self._pools.values() if p is not None], {}
        for env in envs:
            env.close()
        for pool in pools:
            pool.close()


class _Member:
    """One env worker as the learner sees it: its actor, and whether it is starting, alive or dead."""

    def __init__(self, index: int, handle: Any) -> None:
        self.index = index
        self.handle = handle
        self.ready = handle.describe.remote()  # resolves once the actor is up
        self.state = "starting"
        self.info: dict[str, Any] = {"worker": index}
        self.hosted = 0  # envs whose episodes it holds

    def describe(self) -> str:
        node = str(self.info.get("node", "?"))[:12]
        return f"env worker {self.index} (node {node}, pid {self.info.get('pid', '?')})"


class WorkerEnv(gym.Env):
    """An env that lives in an env worker (a Ray actor, maybe on another machine): ``reset`` and ``step`` are
    calls to it, the rest is here. Made by :meth:`selfgym.runtime.executors.RayExecutor.make_envs`.

    ``task`` is the episode's task (as the env reports it), ``placement`` where the episode runs (worker,
    node, host, pid), ``remote_class`` the class of the env in the worker (what its class methods are asked:
    :func:`selfgym.agents.rollout.env_class_of`), ``source`` its task source. ``reset`` or ``step`` raise
    :class:`WorkerLostError` when the worker died; the next ``reset`` runs on a live one."""

    def __init__(self, fleet: EnvFleet, env_set: EnvSet, slot: int, home: int, remote_class: type,
                 spaces: tuple[gym.Space, gym.Space, dict[str, Any], list[dict[str, Any]] | None]) -> None:
        self.observation_space, self.action_space, self.metadata, self._tool_schemas = spaces
        self.env_set, self.slot, self.home = env_set, slot, home
        self.remote_class = remote_class
        self.task: Any = None
        self.placement: dict[str, Any] | None = None
        self._fleet = fleet
        self._member: _Member | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return self._fleet.reset(self, seed, options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        return self._fleet.step(self, action)

    @property
    def source(self) -> Any:
        return self._fleet.source(self.env_set)

    def tool_schemas(self) -> list[dict[str, Any]]:
        """The tools of the env in the worker, in the OpenAI form (see ``SelfgymEnv.tool_schemas``)."""
        if self._tool_schemas is None:
            raise AttributeError(f"{self.env_set.env_id} offers no tools")
        return list(self._tool_schemas)

    def close(self) -> None:
        self._fleet.drop(self)
        super().close()

    def __repr__(self) -> str:
        return f"<WorkerEnv {self.env_set.env_id} {self.env_set.key}/{self.slot} on {self.placement}>"


def _remote_error(exc: BaseException) -> BaseException:
    """What a worker raised (a ``RayTaskError``), as the error itself: a sandbox error as it was (its message
    goes into logs and trajectories), anything else with the worker's traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, (SandboxError, gym.error.Error, ValueError)):
        return cause
    return exc.as_instanceof_cause()


class EnvFleet:
    """``workers`` env workers (Ray actors) and the :class:`WorkerEnv` proxies of the envs they hold.

    Ray must be initialised. Each worker reserves ``cpus_per_worker`` CPUs, ``gpus_per_worker`` GPUs and
    ``resources`` (None: ``{"docker": 1}`` when a node of the cluster offers ``docker``, else nothing);
    workers are spread over the nodes. ``on_worker`` is called with each worker's description as it comes up
    (the first ones and replacements). ``lost`` counts the workers lost so far.
    """

    def __init__(self, workers: int, *, cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0,
                 resources: Mapping[str, float] | None = None, docker_host: str | None = None,
                 docker_cert_path: str | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 on_worker: Callable[[dict[str, Any]], None] | None = None) -> None:
        import ray

        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.resources = worker_resources(resources)
        need = {"CPU": cpus_per_worker, "GPU": gpus_per_worker, **self.resources}
        self.need = {name: amount for name, amount in need.items() if amount}  # of each worker
        check_capacity(workers, self.need)
        self._actor = ray.remote(EnvWorker).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, resources=self.resources or None,
            max_concurrency=WORKER_THREADS, max_restarts=0, max_task_retries=0, scheduling_strategy="SPREAD")
        self._engine = (docker_host, docker_cert_path)
        self.start_timeout_s = start_timeout_s
        self.on_worker = on_worker
        self.lost = 0
        self._lock = threading.Lock()
        self._sets: list[EnvSet] = []
        self._sources: dict[str, Any] = {}
        self._next_home = 0
        self.members = [self._spawn(index) for index in range(workers)]
        self._await_start(self.members)

    # -- workers ---------------------------------------------------------------------------------------------
    def _spawn(self, index: int) -> _Member:
        return _Member(index, self._actor.remote(index, *self._engine))

    def _await_start(self, members: list[_Member]) -> None:
        import ray

        ray.wait([m.ready for m in members], num_returns=len(members), timeout=self.start_timeout_s)
        with self._lock:
            self._refresh()
        waiting = [m for m in members if m.state == "starting"]
        if waiting:
            self.close()
            raise ExecutorError(
                f"{len(waiting)} of {len(members)} env workers did not start within "
                f"{self.start_timeout_s:.0f} s: the cluster has no room for them (each needs "
                f"{_amounts(self.need)}; free now: {_free_resources()}). Add nodes, or ask for fewer workers "
                "or resources.")

    def _refresh(self) -> None:
        """Mark the workers that came up alive (under the lock). A worker that died while starting is a
        configuration problem (it cannot be made there): an :class:`ExecutorError`, not a loop of
        replacements."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        starting = [m for m in self.members if m.state == "starting"]
        if not starting:
            return
        done, _ = ray.wait([m.ready for m in starting], num_returns=len(starting), timeout=0)
        done = set(done)
        for member in starting:
            if member.ready not in done:
                continue
            try:
                member.info = ray.get(member.ready)
            except (RayActorError, RayTaskError) as exc:
                member.state = "dead"
                raise ExecutorError(f"env worker {member.index} failed while starting: "
                                    f"{_first_line(exc)}") from None
            member.state = "alive"
            if self.on_worker is not None:
                self.on_worker(dict(member.info))

    def _lose(self, member: _Member, exc: BaseException) -> WorkerLostError:
        """Mark ``member`` dead and start its replacement (once, however many of its envs noticed)."""
        import ray

        with self._lock:
            if member.state != "dead":
                member.state = "dead"
                self.lost += 1
                log.warning("%s was lost (%s); replacing it", member.describe(), _first_line(exc))
                try:
                    ray.kill(member.handle, no_restart=True)
                except Exception:  # noqa: BLE001 - it is gone already
                    pass
                if self.members[member.index] is member:
                    self.members[member.index] = self._spawn(member.index)
        return _lost_episode(member, f" ({_first_line(exc)})")

    def _place(self, env: WorkerEnv) -> _Member:
        """The worker to play ``env``'s next episode on: its home when alive, else the least loaded live one;
        waits for one to start when none is alive."""
        import ray

        while True:
            with self._lock:
                self._refresh()
                home = self.members[env.home % len(self.members)]
                alive = [m for m in self.members if m.state == "alive"]
                target = home if home.state == "alive" else min(alive, key=lambda m: m.hosted, default=None)
                if target is not None:
                    previous, env._member = env._member, target
                    if previous is not target:
                        target.hosted += 1
                        if previous is not None:
                            previous.hosted -= 1
                            if previous.state == "alive":  # the env moves: the old one is of no more use
                                previous.handle.drop.remote(env.env_set.key, env.slot)
                    return target
                starting = [m.ready for m in self.members if m.state == "starting"]
            ready, _ = ray.wait(starting, num_returns=1, timeout=self.start_timeout_s)
            if not ready:
                raise ExecutorError(f"no env worker is alive and none came up within "
                                    f"{self.start_timeout_s:.0f} s ({self.lost} lost so far; free resources: "
                                    f"{_free_resources()})")

    # -- the envs --------------------------------------------------------------------------------------------
    def make_envs(self, env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None) -> list[WorkerEnv]:
        """``n`` envs of ``env_id``, spread round robin over the workers."""
        from ..envs.pools import env_class

        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        env_set = EnvSet(str(len(self._sets)), env_id, dict(env_kwargs or {}), n, gym.spec(env_id))
        self._sets.append(env_set)
        spaces = self._call(self._any_alive(), lambda h: h.probe.remote(env_set))
        remote_class = env_class(env_id)
        first, self._next_home = self._next_home, self._next_home + n
        return [WorkerEnv(self, env_set, slot, first + slot, remote_class, spaces) for slot in range(n)]

    def _any_alive(self) -> _Member:
        with self._lock:
            self._refresh()
            alive = [m for m in self.members if m.state == "alive"]
        if not alive:
            raise WorkerLostError("no env worker is alive")
        return alive[0]

    def _call(self, member: _Member, call: Callable[[Any], Any]) -> Any:
        """``call(actor)``'s result; a dead worker becomes :class:`WorkerLostError`, a worker's own error
        itself."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return ray.get(call(member.handle))
        except RayActorError as exc:
            raise self._lose(member, exc) from None
        except RayTaskError as exc:
            raise _remote_error(exc) from None

    def reset(self, env: WorkerEnv, seed: int | None, options: Mapping[str, Any] | None) -> tuple[Any, dict]:
        member = self._place(env)
        env.placement, env.task = dict(member.info), None
        observation, info, env.task = self._call(
            member, lambda h: h.reset.remote(env.env_set, env.slot, seed, options))
        return observation, info

    def step(self, env: WorkerEnv, action: Any) -> tuple[Any, float, bool, bool, dict]:
        member = env._member
        if member is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if member.state == "dead":  # another env of its worker found it dead: this episode went with it
            raise _lost_episode(member)
        return self._call(member, lambda h: h.step.remote(env.env_set.key, env.slot, action))

    def source(self, env_set: EnvSet) -> Any:
        if env_set.key not in self._sources:
            self._sources[env_set.key] = self._call(self._any_alive(), lambda h: h.source.remote(env_set))
        return self._sources[env_set.key]

    def drop(self, env: WorkerEnv) -> None:
        """Forget ``env``'s place (its worker closes its env there)."""
        with self._lock:
            member, env._member = env._member, None
            if member is not None:
                member.hosted -= 1
                if member.state == "alive":
                    member.handle.drop.remote(env.env_set.key, env.slot)

    def close(self) -> None:
        """Close every worker's envs and pools, then end the actors."""
        import ray

        with self._lock:
            members, self.members = list(self.members), []
        closing = [m.handle.close.remote() for m in members if m.state == "alive"]
        try:
            if closing:
                ray.wait(closing, num_returns=len(closing), timeout=60)
        finally:
            for member in members:
                member.state = "dead"  # an env closed later has nothing to drop
                try:
                    ray.kill(member.handle, no_restart=True)
                except Exception:  # noqa: BLE001 - gone already
                    pass


def worker_resources(resources: Mapping[str, float] | None) -> dict[str, float]:
    """The custom resources an env worker asks for: ``resources`` as given, or (None) one ``docker`` when some
    node of the cluster offers that resource (nodes started with ``--resources '{"docker": N}'``)."""
    import ray

    if resources is not None:
        return {name: float(amount) for name, amount in resources.items() if amount}
    return {"docker": 1.0} if ray.cluster_resources().get("docker") else {}


def check_capacity(workers: int, need: Mapping[str, float]) -> None:
    """An :class:`ExecutorError` naming what is missing when the whole cluster cannot hold ``workers`` workers
    that each need ``need`` (whether they fit node by node, Ray finds out)."""
    import ray

    total = ray.cluster_resources()
    short = [f"{workers * amount:g} {name} (the cluster has {total.get(name, 0):g})"
             for name, amount in need.items() if workers * amount > total.get(name, 0) + 1e-9]
    if short:
        hint = " Ask for"
        if "docker" in need:
            hint = (" Start worker nodes with `ray start --address HEAD:6379 --resources "
                    "'{\"docker\": 4}'`, or ask for")
        needs = "s need" if workers != 1 else " needs"
        raise ExecutorError(f"{workers} env worker{needs} {', '.join(short)}.{hint} fewer workers "
                            "(executor.workers), fewer CPUs each (cpus_per_worker) or other resources.")


def _amounts(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in sorted(resources.items()))


def _free_resources() -> str:
    import ray

    free = ray.available_resources()
    return _amounts({name: amount for name, amount in free.items()
                     if not name.startswith(("node:", "memory", "object_store"))}) or "none"


def _lost_episode(member: _Member, why: str = "") -> WorkerLostError:
    return WorkerLostError(f"{member.describe()} was lost mid-episode{why}; the episode is no failure of the "
                           "agent's and is played again on a live worker")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
