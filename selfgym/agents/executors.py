"""Where rollout workers run: threads of this process (``local``) or Ray actors (``ray``), on one machine or a
cluster.

An executor maps work items over workers and yields each item with its result as it finishes, in any order.
A worker is whatever a factory builds (an eval :class:`~selfgym.eval.runner.RolloutWorker`, an
experiment's own): an object with ``play(item)``, ``describe()`` and ``close()``. Local workers are built in
threads and may share objects (a sandbox pool, a loaded model); each Ray actor builds its own from the
(pickled) factory.

With Ray, a worker whose process dies (a crash, the OOM killer, a lost node) is replaced by a new actor and
the item it was playing is retried on some worker; an item is yielded once, when a worker returns it, so
nothing is lost or counted twice. An exception raised *by* ``play`` is not retried: it ends the run.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

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


class ExecutorError(RuntimeError):
    """The executor could not finish: workers could not start, or an item kept killing its worker."""


class Executor(ABC):
    """Runs work items on ``workers`` workers. ``worker_info`` collects each started worker's ``describe()``;
    ``on_worker`` (if set) is called with it as each worker starts."""

    kind: str = "executor"
    in_process: bool = False  # True: workers are threads of this process and may share objects

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
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

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers}


class LocalExecutor(Executor):
    """Workers in threads of this process (sandbox calls and model servers release the GIL)."""

    kind = "local"
    in_process = True

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
    """What runs inside each Ray actor: the worker the factory builds there."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.worker = factory()

    def describe(self) -> dict[str, Any]:
        return {**self.worker.describe(), "pid": os.getpid(), "host": socket.gethostname()}

    def play(self, item: Any) -> Any:
        return self.worker.play(item)

    def close(self) -> None:
        self.worker.close()


class RayExecutor(Executor):
    """Workers as Ray actors, each with its own envs and sandbox pool.

    Args:
        workers: number of actors.
        address: a Ray cluster to join (``ray://host:10001`` or ``host:6379``; ``"auto"`` for the one this
            machine belongs to); None starts a local cluster unless Ray is already initialised in this
            process.
        cpus_per_worker / gpus_per_worker: resources each actor reserves (a model on a GPU:
            ``gpus_per_worker=1``).
        max_retries: how many times one item may lose its worker before the run gives up (an item that kills
            every worker it lands on would otherwise loop for ever).

    ``actor_pids`` maps each live actor slot to its process id (for monitoring, and for tests that kill one);
    ``replaced`` counts actors that died and were replaced.
    """

    kind = "ray"

    def __init__(self, workers: int, *, address: str | None = None, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0, max_retries: int = 3) -> None:
        super().__init__(workers)
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.max_retries = max_retries
        self.actor_pids: dict[int, int] = {}
        self.replaced = 0

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": self.address, "cpus_per_worker": self.cpus_per_worker,
                "gpus_per_worker": self.gpus_per_worker}

    def map_unordered(self, factory: WorkerFactory, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
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
                if started_ray:
                    ray.shutdown()


def make_executor(kind: str, workers: int, *, address: str | None = None, cpus_per_worker: float = 1.0,
                  gpus_per_worker: float = 0.0) -> Executor:
    """``"local"`` or ``"ray"`` (``executor:`` in experiment files, ``--executor`` on the command line)."""
    if kind == "local":
        if address is not None:
            raise ValueError("an address only makes sense with the ray executor")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address=address, cpus_per_worker=cpus_per_worker,
                           gpus_per_worker=gpus_per_worker)
    raise ValueError(f"executor must be 'local' or 'ray', got {kind!r}")
