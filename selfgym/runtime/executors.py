"""Where episodes are played: in this process (``local``) or in Ray actors (``ray``), on one machine or a
cluster.

An executor offers two ways to spread work, the same for both kinds:

* :meth:`Executor.make_envs` gives ``n`` envs for lockstep rollouts (:func:`~selfgym.agents.rollout_batch`,
  every experiment method, :class:`~selfgym.agents.GRPOTrainer`). The policy stays with the caller (the
  learner), which generates the replies of all of them in one batch; only the env steps run where the envs
  live. Local: envs of this process on one sandbox pool, stepped in threads. Ray:
  :class:`~selfgym.runtime.env_workers.WorkerEnv` proxies of envs that live in *env workers*, actors that each
  hold envs and their own sandbox pools on their node's Docker engine (see :mod:`selfgym.runtime.env_workers`:
  a worker lost mid-episode loses only its episodes, which the rollout loop plays again on a live worker).
* :meth:`Executor.map_unordered` maps independent work items over workers that each hold everything they
  need (``selfgym eval``: a policy and envs per worker), yielding each item with its result as it finishes.

A map worker is whatever a factory builds: an object with ``play(item)``, ``describe()`` and ``close()``.
Local workers are built in threads and may share objects (a sandbox pool, a loaded model); each Ray actor
builds its own from the (pickled) factory. With Ray, a map worker whose process dies (a crash, the OOM killer,
a lost node) is replaced by a new actor and the item it was playing is retried on some worker; an item is
yielded once, when a worker returns it, so nothing is lost or counted twice. An exception raised *by* ``play``
is not retried: it ends the run.

Executors are context managers: :meth:`Executor.close` closes the envs they made, stops their actors, and
leaves Ray as it found it.
"""
from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import gymnasium as gym

    from .env_workers import EnvFleet

from .errors import ExecutorError

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class Worker(Protocol):
    def play(self, item: Any) -> Any:
        """Do one work item and return its (picklable) result."""

    def describe(self) -> dict[str, Any]:
        """What this worker runs on (host, pid, images, versions): recorded with the results."""

    def close(self) -> None:
        """Release what the worker holds (envs, sandboxes)."""


WorkerFactory = Callable[[], Worker]


class Executor(ABC):
    """Runs episodes on ``workers`` workers. ``worker_info`` collects each started worker's ``describe()``;
    ``on_worker`` (if set) is called with it as each worker starts.

    ``docker_host`` / ``docker_cert_path``: the Docker engine the sandboxes of :meth:`make_envs` run on
    (:func:`selfgym.sandbox.docker_client`); None: ``DOCKER_HOST`` where the envs live."""

    kind: str = "executor"
    in_process: bool = False  # True: workers are threads of this process and may share objects

    def __init__(self, workers: int, *, docker_host: str | None = None,
                 docker_cert_path: str | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.docker_host = docker_host
        self.docker_cert_path = docker_cert_path
        self.worker_info: list[dict[str, Any]] = []
        self.on_worker: Callable[[dict[str, Any]], None] | None = None
        self._info_lock = threading.Lock()

    def _started(self, info: dict[str, Any]) -> None:
        with self._info_lock:
            self.worker_info.append(info)
        if self.on_worker is not None:
            self.on_worker(info)

    @abstractmethod
    def map_unordered(self, factory: WorkerFactory, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        """Yield ``(item, result)`` for every item, as each finishes."""

    @abstractmethod
    def make_envs(self, env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None) -> list[gym.Env]:
        """``n`` envs of ``env_id`` made with ``env_kwargs`` (what ``gym.make`` takes; ``pool`` is the
        executor's), for lockstep rollouts. They are closed with the executor, and share sandbox pools of the
        image and limits the env declares (or its kwargs say) on the executor's Docker engine; containers
        start when an env first needs one."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers}

    def close(self) -> None:
        """Close the envs made by :meth:`make_envs` and release what the executor holds."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Workers in threads of this process (sandbox calls and model servers release the GIL); envs of
    :meth:`make_envs` live here too and are stepped in threads by the rollout loop."""

    kind = "local"
    in_process = True

    def __init__(self, workers: int = 1, **engine: str | None) -> None:
        super().__init__(workers, **engine)
        self._made: list[tuple[list, Any]] = []  # (envs, their pool) of each make_envs call

    def make_envs(self, env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None) -> list[gym.Env]:
        from ..envs.pools import make_env_set

        envs, pool = make_env_set(env_id, n, env_kwargs, docker_host=self.docker_host,
                                  docker_cert_path=self.docker_cert_path)
        self._made.append((envs, pool))
        return envs

    def close(self) -> None:
        made, self._made = self._made, []
        for envs, pool in made:
            for env in envs:
                env.close()
            if pool is not None:
                pool.close()

    def map_unordered(self, factory: WorkerFactory, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        todo: queue.SimpleQueue[Item] = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        stop = threading.Event()

        def work() -> None:
            try:
                worker = factory()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                results.put(("error", exc))
                return
            try:
                self._started(worker.describe())
                while not stop.is_set():
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        return
                    results.put(("done", (item, worker.play(item))))
            except BaseException as exc:  # noqa: BLE001
                results.put(("error", exc))
            finally:
                worker.close()
                results.put(("exit", None))

        threads = [threading.Thread(target=work, name=f"selfgym-eval-{i}", daemon=True)
                   for i in range(min(self.workers, max(1, len(items))))]
        for thread in threads:
            thread.start()
        remaining, running = len(items), len(threads)
        try:
            while remaining:
                kind, value = results.get()
                if kind == "error":
                    raise value
                if kind == "exit":
                    running -= 1
                    if running == 0:
                        raise ExecutorError(f"every worker stopped with {remaining} item(s) left")
                    continue
                remaining -= 1
                yield value
        finally:
            stop.set()
            for thread in threads:
                thread.join()


class _ActorHost:
    """What runs inside each Ray actor of :meth:`RayExecutor.map_unordered`: the worker the factory builds."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.worker = factory()

    def describe(self) -> dict[str, Any]:
        return {**self.worker.describe(), "pid": os.getpid(), "host": socket.gethostname()}

    def play(self, item: Any) -> Any:
        return self.worker.play(item)

    def close(self) -> None:
        self.worker.close()


class RayExecutor(Executor):
    """Workers as Ray actors, each with its own envs and sandbox pools, on the nodes Ray places them on.

    Args:
        workers: number of actors (env workers for :meth:`make_envs`, map workers for :meth:`map_unordered`).
        address: a Ray cluster to join (``host:6379``, ``ray://host:10001``; ``"auto"`` for the one this
            machine belongs to); None starts a local Ray instance unless Ray is already initialised in this
            process (then that one is used).
        cpus_per_worker / gpus_per_worker: resources each actor reserves (a model on a GPU:
            ``gpus_per_worker=1``).
        resources: custom resources each env worker needs, e.g. ``{"docker": 1}`` so that workers land only on
            nodes started with ``ray start --resources '{"docker": 4}'``. None: ``{"docker": 1}`` when some
            node of the cluster offers a ``docker`` resource, else nothing.
        max_retries: how many times one map item may lose its worker before the run gives up (an item that
            kills every worker it lands on would otherwise loop for ever).
        docker_host / docker_cert_path: the engine env workers start sandboxes on (all of them: e.g. one
            remote engine); None: each worker's own ``DOCKER_HOST`` (the engine of its node).

    ``actor_pids`` maps each live map actor's slot to its process id (for monitoring, and for tests that kill
    one); ``replaced`` counts map actors that died and were replaced. ``fleet`` is the env workers, once
    :meth:`make_envs` started them.
    """

    kind = "ray"

    def __init__(self, workers: int = 1, *, address: str | None = None, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0, resources: Mapping[str, float] | None = None,
                 max_retries: int = 3, docker_host: str | None = None,
                 docker_cert_path: str | None = None) -> None:
        super().__init__(workers, docker_host=docker_host, docker_cert_path=docker_cert_path)
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.resources = dict(resources) if resources is not None else None
        self.max_retries = max_retries
        self.actor_pids: dict[int, int] = {}
        self.replaced = 0
        self.fleet: EnvFleet | None = None
        self._started_ray = False

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": self.address, "cpus_per_worker": self.cpus_per_worker,
                "gpus_per_worker": self.gpus_per_worker}

    def _connect(self) -> bool:
        """Join (or start) Ray unless this process is connected already; True if this call started it."""
        import ray

        if ray.is_initialized():
            return False
        # A local instance gets CPUs for every worker: env workers mostly wait on sandboxes and the learner.
        local = {"num_cpus": max(os.cpu_count() or 1, int(self.workers * self.cpus_per_worker + 0.999))} \
            if self.address is None else {}
        ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **local)
        self._started_ray = True
        return True

    def make_envs(self, env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None) -> list[gym.Env]:
        from .env_workers import EnvFleet

        if self.fleet is None:
            self._connect()
            self.fleet = EnvFleet(self.workers, cpus_per_worker=self.cpus_per_worker,
                                  gpus_per_worker=self.gpus_per_worker, resources=self.resources,
                                  docker_host=self.docker_host, docker_cert_path=self.docker_cert_path,
                                  on_worker=self._started)
        return self.fleet.make_envs(env_id, n, env_kwargs)

    def close(self) -> None:
        import ray

        fleet, self.fleet = self.fleet, None
        try:
            if fleet is not None:
                fleet.close()
        finally:
            if self._started_ray:
                self._started_ray = False
                ray.shutdown()

    def map_unordered(self, factory: WorkerFactory, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        started_ray = self._connect()
        actor_class = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                                 max_restarts=0, max_task_retries=0)(_ActorHost)
        actors: dict[int, Any] = {}

        def spawn(slot: int) -> None:
            actor = actor_class.remote(factory)
            try:
                info = ray.get(actor.describe.remote())
            except RayTaskError as exc:  # the worker could not be built there (no Docker, no model, ...)
                raise exc.as_instanceof_cause() from None
            actors[slot] = actor
            self.actor_pids[slot] = info["pid"]
            self._started(info)

        pending = list(range(len(items)))[::-1]  # a stack of item indices; retried items go back on top
        losses = [0] * len(items)
        in_flight: dict[Any, tuple[int, int]] = {}  # result ref -> (slot, item index)
        try:
            slots = list(range(min(self.workers, max(1, len(items)))))
            for slot in slots:
                spawn(slot)
            idle = list(slots)
            while pending or in_flight:
                while idle and pending:
                    slot, index = idle.pop(), pending.pop()
                    in_flight[actors[slot].play.remote(items[index])] = (slot, index)
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                slot, index = in_flight.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except RayTaskError as exc:
                    raise exc.as_instanceof_cause() from None
                except RayActorError as exc:
                    losses[index] += 1
                    if losses[index] > self.max_retries:
                        raise ExecutorError(f"item {index} lost its worker {losses[index]} times; giving up "
                                            f"(last: {exc})") from None
                    log.warning("worker %d (pid %s) died; replacing it and retrying its item",
                                slot, self.actor_pids.get(slot))
                    ray.kill(actors.pop(slot), no_restart=True)
                    self.actor_pids.pop(slot, None)
                    self.replaced += 1
                    pending.append(index)
                    spawn(slot)
                    idle.append(slot)
                    continue
                idle.append(slot)
                yield items[index], result
        finally:
            closing = [actor.close.remote() for actor in actors.values()]
            try:
                ray.wait(closing, num_returns=len(closing), timeout=60)
            finally:
                for actor in actors.values():
                    ray.kill(actor, no_restart=True)
                self.actor_pids.clear()
                if started_ray and self.fleet is None:  # a one-off map: leave Ray as it was found
                    self._started_ray = False
                    ray.shutdown()


def make_executor(kind: str, workers: int = 1, *, address: str | None = None, cpus_per_worker: float = 1.0,
                  gpus_per_worker: float = 0.0, resources: Mapping[str, float] | None = None,
                  docker_host: str | None = None, docker_cert_path: str | None = None) -> Executor:
    """``"local"`` or ``"ray"`` (``executor:`` in experiment files, ``--executor`` on the command line)."""
    engine = {"docker_host": docker_host, "docker_cert_path": docker_cert_path}
    if kind == "local":
        if address is not None or resources:
            raise ValueError("an address or resources only make sense with the ray executor")
        return LocalExecutor(workers, **engine)
    if kind == "ray":
        return RayExecutor(workers, address=address, cpus_per_worker=cpus_per_worker,
                           gpus_per_worker=gpus_per_worker, resources=resources, **engine)
    raise ValueError(f"executor must be 'local' or 'ray', got {kind!r}")
