"""What an environment runs in: a sandbox image (by name) and its default limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import docker

from .engine import docker_client
from .images import default_image, image_tag
from .limits import Limits


@dataclass(frozen=True)
class SandboxSpec:
    """A sandbox image by name (``docker/<name>.Dockerfile``; ``selfgym sandbox build <name>`` builds it) and
    the limits its containers get by default. Each env class declares one (``TextEnv.sandbox_spec``), and pools
    for an env are made from it (:func:`selfgym.envs.pool_for`), never from a table elsewhere.
    """

    image: str = "python"
    limits: Limits = field(default_factory=Limits)

    def tag(self) -> str:
        """The image's tag for the current sources (not checked: see :meth:`built_tag`)."""
        return image_tag(self.image)

    def built_tag(self, client: docker.DockerClient | None = None) -> str:
        """The image's tag; a clear error naming ``selfgym sandbox build <name>`` when it is not built."""
        return default_image(client or docker_client(), self.image)
