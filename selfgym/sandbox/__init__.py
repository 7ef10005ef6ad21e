"""Docker sandboxes for untrusted code: :class:`Sandbox`, :class:`SandboxPool`, :class:`Limits`, :class:`ExecResult`.

Quick use::

    from selfgym.sandbox import SandboxPool
    with SandboxPool(size=2) as pool, pool.acquire() as sb:
        print(sb.run("python3 -c 'print(1 + 1)'").stdout)
"""

from .engine import docker_client
from .errors import (
    DockerDiskFullError,
    DockerPermissionError,
    DockerUnavailableError,
    ImageNotFoundError,
    InfrastructureError,
    SandboxError,
    SandboxLostError,
    SandboxStartError,
)
from .images import build_image, default_image, image_tag
from .limits import ExecResult, JudgedResult, Limits
from .pool import SandboxPool
from .reaper import reap
from .sandbox import Sandbox
from .spec import SandboxSpec

__all__ = [
    "DockerDiskFullError", "DockerPermissionError", "DockerUnavailableError", "ExecResult", "ImageNotFoundError",
    "InfrastructureError", "JudgedResult", "Limits", "Sandbox", "SandboxError", "SandboxLostError", "SandboxPool",
    "SandboxSpec", "SandboxStartError", "build_image", "default_image", "docker_client", "image_tag", "reap",
]
