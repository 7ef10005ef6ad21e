"""selfgym envs over the network, on OpenEnv's wire protocol: the wire types (:mod:`.wire`), the Gymnasium client
``selfgym/Remote-v0`` (:mod:`.client`) and the server behind ``selfgym env-server`` (:mod:`.server`, which needs
FastAPI and is imported only when used)."""

from .client import RemoteEnv, RemoteEnvError, RemoteTasks

__all__ = ["RemoteEnv", "RemoteEnvError", "RemoteTasks"]
