"""What goes wrong where episodes run: an executor that cannot finish, an env worker lost mid-episode."""

from __future__ import annotations

from ..sandbox.errors import InfrastructureError


class ExecutorError(RuntimeError):
    """The executor could not finish: workers could not start, or an item kept killing its worker."""


class WorkerLostError(InfrastructureError):
    """The env worker playing an episode died (its process or its node): the episode is lost to the
    infrastructure and is played again on a live worker."""
