"""Docker sandboxes for untrusted code: :class:`Sandbox`, :class:`SandboxPool`, :class:`Limits`, :class:`ExecResult`.

Quick use::

    from selfgym.sandbox import SandboxPool
    with SandboxPool(size=2) as pool, pool.acquire() as sb:
        print(sb.run("python3 -c 'print(1 + 1)'").stdout)
"""

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    DockerDiskFullError,
    DockerInsecureError,
    DockerPermissionError,
    DockerUnavailableError,
    ImageNotFoundError,
    InfrastructureError,
    SandboxError,
    SandboxLostError,
    SandboxStartError,
)
from .limits import ExecResult, JudgedResult, Limits, PythonProgram
from .spec import SandboxSpec

if TYPE_CHECKING:
    from .engine import docker_client
    from .images import build_image, default_image, image_tag
    from .pool import SandboxPool
    from .reaper import reap
    from .sandbox import Sandbox

# What needs Docker's SDK is imported on first use, so that `import selfgym` (and an env's module) stays light.
_LAZY = {
    "docker_client": ".engine", "build_image": ".images", "default_image": ".images", "image_tag": ".images",
    "SandboxPool": ".pool", "reap": ".reaper", "Sandbox": ".sandbox",
}

__all__ = [
    "DockerDiskFullError", "DockerInsecureError", "DockerPermissionError", "DockerUnavailableError", "ExecResult",
    "ImageNotFoundError", "InfrastructureError", "JudgedResult", "Limits", "PythonProgram", "Sandbox", "SandboxError", "SandboxLostError", "SandboxPool",
    "SandboxSpec", "SandboxStartError", "build_image", "default_image", "docker_client", "image_tag", "reap",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
