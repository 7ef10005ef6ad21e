"""Docker's SDK and ``requests``, loaded on first use.

Every env module imports the sandbox modules (for :class:`~selfgym.sandbox.Sandbox`, the pool, the images), but
an env needs Docker only when it first takes a sandbox: Math-v0 without tools never does, and ``gym.make`` of any
env should not pay for it (``docker`` with ``paramiko`` takes about 0.3 s to import). The sandbox modules name
``docker.errors.NotFound``, ``docker.types.Ulimit``, ``requests.exceptions.RequestException`` ... through the two
stand-ins below, which import the real packages the first time an attribute is read.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _OnFirstUse:
    """A module imported (with ``submodules``) when one of its attributes is first read."""

    def __init__(self, name: str, *submodules: str) -> None:
        self._names = (name, *submodules)
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            for name in self._names:
                module = importlib.import_module(name)
                self._module = self._module or module
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<{self._names[0]}, imported on first use ({state})>"


docker: Any = _OnFirstUse("docker", "docker.errors", "docker.types")
requests: Any = _OnFirstUse("requests", "requests.exceptions")
