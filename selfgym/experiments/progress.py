"""How a run shows its progress: one bar per phase (training, each evaluation, each fine-tuning round)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def phase_progress(console: Console, *extra) -> Progress:
    """A progress bar for one phase of a run; ``extra`` columns go before the elapsed time."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *extra,
                    TimeElapsedColumn(), console=console)
