"""Host folders copied into a sandbox: a task's tests, a step's workdir."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path


def folder_files(roots: Iterable[str | Path], target: str, *, max_bytes: int) -> dict[str, tuple[bytes, int]]:
    """The regular files of ``roots`` (later ones over earlier ones) as ``target/<relative path>`` -> (bytes,
    mode): files inside each root only (a link out of it is skipped), ``ValueError`` past ``max_bytes`` in all."""
    files: dict[str, tuple[bytes, int]] = {}
    total = 0
    for folder in roots:
        root = Path(folder).resolve()
        for path in sorted(root.rglob("*")):
            if not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            data = path.read_bytes()
            total += len(data)
            if total > max_bytes:
                raise ValueError(f"{root} holds more than {max_bytes >> 20} MiB")
            files[f"{target.rstrip('/')}/{path.relative_to(root).as_posix()}"] = (data,
                                                                                   stat.S_IMODE(path.stat().st_mode))
    return files
