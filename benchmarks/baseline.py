"""The code to compare with: a git revision of this repository, or a checkout, for benchmarks that time today's
code against it in the same run (each in its own process, with that code on ``PYTHONPATH``)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# main before the verifier pool and the in-browser origin guard (issue 17), as this branch last merged it
BASELINE_REVISION = "8a09e2c"


def baseline_code(revision: str, checkout: str | None, into: Path) -> Path:
    """``checkout`` when given, else the ``selfgym`` package and Dockerfiles of ``revision`` extracted into ``into``."""
    if checkout:
        return Path(checkout).resolve()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "selfgym", "docker"], capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into
