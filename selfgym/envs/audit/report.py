"""An audit report as people read it (rich tables) and as programs read it (JSON, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ...io import atomic_write_text
from .base import AuditReport, TaskAudit

MAX_ACTION_CHARS = 160  # of each action shown in the table; the JSON keeps every action whole
MAX_ACTIONS_SHOWN = 4
VERDICT_STYLE = {"ok": "green", "hackable": "bold red", "broken": "yellow"}


def write_json(report: AuditReport, path: str | Path) -> None:
    """``report`` as JSON at ``path`` (atomically: a reader sees the old file or the whole new one)."""
    atomic_write_text(path, report.to_json() + "\n")


def task_table(report: AuditReport) -> Table:
    """One row per task that is ok, one per finding of the others: task, verdict, exploit class, reward, and the
    actions that reproduce it (played after ``env.reset(seed=SEED, options={"task": task})``)."""
    table = Table("task", "verdict", "exploit", "reward", "reproduce (actions after reset)",
                  title=f"audit of {escape(report.env)}: {len(report.tasks)} tasks", show_lines=False)
    for audit in report.tasks:
        style = VERDICT_STYLE[audit.verdict]
        if not audit.findings:
            table.add_row(escape(audit.task_id), f"[{style}]{audit.verdict}[/]", "-", "-",
                          f"[dim]{audit.probes} probes passed[/]")
            continue
        for number, finding in enumerate(audit.findings):
            head = (escape(audit.task_id), f"[{style}]{audit.verdict}[/]") if number == 0 else ("", "")
            what = finding.exploit if finding.must == "fail" else f"{finding.exploit} (must pass)"
            reproduce = _actions(finding.actions)
            if finding.error:
                reproduce += f"\n[dim]raised {escape(finding.error[:200])}[/]"
            table.add_row(*head, escape(what), f"{finding.reward:g}", reproduce)
    return table


def summary_table(report: AuditReport) -> Table:
    """Tasks per exploit class (a task counts once per class), then the verdicts."""
    counts = report.counts_by_exploit()
    broken = broken_counts(report.tasks)
    table = Table("exploit class", "hackable tasks", title="summary by exploit class")
    for exploit, count in counts.items():
        table.add_row(escape(exploit), str(count))
    for exploit, count in broken.items():
        table.add_row(f"{escape(exploit)} (must pass)", f"{count} broken")
    if not counts and not broken:
        table.add_row("[green]none[/]", "0")
    return table


def broken_counts(audits: list[TaskAudit]) -> dict[str, int]:
    """How many tasks each must-pass probe (the reference, a battery that could not attack) failed on."""
    counts: dict[str, int] = {}
    for audit in audits:
        for exploit in dict.fromkeys(f.exploit for f in audit.findings if f.must == "pass"):
            counts[exploit] = counts.get(exploit, 0) + 1
    return counts


def verdict_line(report: AuditReport) -> str:
    verdicts = report.counts_by_verdict()
    probes = sum(audit.probes for audit in report.tasks)
    return (f"{len(report.tasks)} tasks, {probes} probes, {report.seconds:.1f} s: [green]{verdicts['ok']} ok[/], "
            f"[bold red]{verdicts['hackable']} hackable[/], [yellow]{verdicts['broken']} broken[/]")


def show(report: AuditReport, console: Console) -> None:
    """The task table, the summary by exploit class and the verdict counts."""
    console.print(task_table(report))
    console.print(summary_table(report))
    console.print(verdict_line(report), highlight=False)


def _actions(actions: tuple[Any, ...]) -> str:
    shown = []
    for action in actions[:MAX_ACTIONS_SHOWN]:
        text = action if isinstance(action, str) else repr(action)
        text = " ".join(text.split())  # one line per action
        if len(text) > MAX_ACTION_CHARS:
            text = text[:MAX_ACTION_CHARS] + " …"
        shown.append(f"{len(shown) + 1}. {escape(text)}")
    if len(actions) > MAX_ACTIONS_SHOWN:
        shown.append(f"[dim]… {len(actions) - MAX_ACTIONS_SHOWN} more (see --json)[/]")
    return "\n".join(shown) or "[dim](none)[/]"
