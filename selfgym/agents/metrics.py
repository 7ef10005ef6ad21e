"""Per-step training metrics to a JSONL file and TensorBoard, consistent across a kill and a resume.

One line per step, ``{"step": 3, "reward": 0.41, ...}``, flushed as it is written so that a run can be
followed with ``tail -f``; TensorBoard event files beside it (``tensorboard --logdir <dir>``). A resumed run
first drops what was logged after its checkpoint (those steps are played again), so each step appears once in
both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..io import atomic_write_text


class MetricsLogger:
    """Writes ``metrics.jsonl`` (and TensorBoard events under ``tensorboard/``) in ``directory``.

    ``resume_step=n`` (a run resumed from step ``n``) keeps the lines up to step ``n`` and drops the rest; the
    TensorBoard writer purges the same steps. A fresh logger starts a new file. Non-numeric values go to JSONL
    only. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, directory: str | Path, *, tensorboard: bool = True,
                 resume_step: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "metrics.jsonl"
        if resume_step is not None:
            self._forget_after(resume_step)
        elif self.path.exists():
            self.path.unlink()  # a fresh run in an old folder starts a fresh log
        self._file = self.path.open("a", encoding="utf-8")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events a killed run wrote after the checkpoint it is resumed from
            purge = resume_step + 1 if resume_step is not None else None
            self._writer = SummaryWriter(str(self.directory / "tensorboard"), purge_step=purge)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        record = {"step": int(step), **{key: metric_value(value) for key, value in metrics.items()}}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._writer.add_scalar(key, value, step)
            self._writer.flush()

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _forget_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True)
                if line.endswith("\n") and json.loads(line)["step"] <= step]  # a torn last line goes too
        atomic_write_text(self.path, "".join(kept))


def read_metrics(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (a torn last line, from a kill, is skipped)."""
    for line in Path(path).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            yield json.loads(line)


def metric_value(value: Any) -> Any:
    """JSON for a metric value: floats that are not finite become null (JSON has no NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
