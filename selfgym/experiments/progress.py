"""How a run shows its progress: one bar per phase (training, each evaluation, each fine-tuning round) on a
terminal, and plain lines where the console is not one (CI logs, ``make demo | tee``), where a bar draws
nothing until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def phase_progress(console: Console, *extra) -> Progress:
    """A progress bar for one phase of a run; ``extra`` columns go before the elapsed time."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *extra,
                    TimeElapsedColumn(), console=console)


@contextmanager
def training_progress(console: Console, description: str, examples_per_step: int) -> Iterator[
        tuple[Callable[[int, int], None], Callable[[int, int, dict[str, float]], None]]]:
    """``(progress, on_log)`` callbacks for a fine-tuning run (as :func:`selfgym.agents.self_training.finetune`
    takes them). On a terminal: a bar, updated every step. Elsewhere: a line per trainer log, ``DESCRIPTION: step
    S/N, loss L, E examples/s`` (``examples_per_step``: batch size x accumulation), so a log shows that training
    advances and how fast."""
    started = time.perf_counter()
    if console.is_terminal:
        with phase_progress(console) as bar:
            task = bar.add_task(description, total=None)
            yield (lambda step, steps: bar.update(task, completed=step, total=steps)), (lambda *_: None)
        return

    def line(step: int, steps: int, logs: dict[str, float]) -> None:
        if "loss" not in logs:  # the final summary log: train_runtime etc., said by the caller's own line
            return
        rate = step * examples_per_step / max(time.perf_counter() - started, 1e-9)
        console.print(f"{description}: step {step}/{steps}, loss {logs['loss']:.4f}, {rate:.2f} examples/s",
                      highlight=False, soft_wrap=True)

    console.print(f"{description}: started", highlight=False, soft_wrap=True)
    yield (lambda step, steps: None), line
    console.print(f"{description}: done in {time.perf_counter() - started:.0f} s", highlight=False, soft_wrap=True)
