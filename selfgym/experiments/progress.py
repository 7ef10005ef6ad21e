"""How a run shows its progress: one bar per phase (training, each evaluation, each fine-tuning round) on a
terminal, and plain lines where the console is not one (CI logs, ``make demo | tee``), where a bar draws
nothing until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def phase_progress(console: Console, *extra) -> Progress | LineProgress:
    """A progress bar for one phase of a run (``extra`` columns go before the elapsed time) on a terminal;
    elsewhere a :class:`LineProgress`."""
    if not console.is_terminal:
        return LineProgress(console)
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *extra,
                    TimeElapsedColumn(), console=console)


class LineProgress:
    """What :class:`rich.progress.Progress` does for a run, as plain lines for a console that is not a terminal:
    ``DESCRIPTION: C/N, FIELD V, S s`` each time a task passes another tenth of its total or ``every`` seconds
    went by, and when it ends."""

    def __init__(self, console: Console, every: float = 30.0) -> None:
        self.console, self.every = console, every
        self.tasks: list[dict] = []

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        for task in self.tasks:
            if task["said"] != task["completed"]:
                self._say(task)

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields) -> int:
        self.tasks.append({"description": description, "total": total, "completed": completed, "fields": fields,
                           "started": time.perf_counter(), "said": None, "said_at": time.perf_counter()})
        self._say(self.tasks[-1])
        return len(self.tasks) - 1

    def update(self, task_id: int, *, completed: float | None = None, advance: float | None = None,
               total: float | None = None, **fields) -> None:
        task = self.tasks[task_id]
        task["completed"] = completed if completed is not None else task["completed"] + (advance or 0)
        task["total"] = total if total is not None else task["total"]
        task["fields"].update(fields)
        tenth = (task["total"] or 0) / 10
        passed_tenth = tenth > 0 and int(task["completed"] / tenth) > int((task["said"] or 0) / tenth)
        if passed_tenth or time.perf_counter() - task["said_at"] >= self.every or task["completed"] == task["total"]:
            self._say(task)

    def _say(self, task: dict) -> None:
        total = f"/{task['total']:g}" if task["total"] else ""
        fields = "".join(f", {name} {value}" for name, value in task["fields"].items())
        seconds = time.perf_counter() - task["started"]
        self.console.print(f"{task['description']}: {task['completed']:g}{total}{fields}, {seconds:.0f} s",
                           highlight=False, soft_wrap=True)
        task["said"], task["said_at"] = task["completed"], time.perf_counter()


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
