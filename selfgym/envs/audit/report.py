"""An audit report as people read it (rich tables) and as programs read it (JSON, written atomically), and the
journal an interrupted audit resumes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from ...io import append_jsonl, atomic_write_text, read_jsonl
from ..task import Task
from .base import AuditReport, Finding, TaskAudit

MAX_ACTION_CHARS = 160  # of each action shown in the table; the JSON keeps every action whole
MAX_ACTIONS_SHOWN = 4
VERDICT_STYLE = {"ok": "green", "hackable": "bold red", "broken": "yellow"}


def write_json(report: AuditReport, path: str | Path) -> None:
    """``report`` as JSON at ``path`` (atomically: a reader sees the old file or the whole new one)."""
    atomic_write_text(path, report.to_json() + "\n")


def journal_path(json_path: str | Path) -> Path:
    """Where an audit writing ``json_path`` journals each task's audit as it is done (removed once the JSON is)."""
    return Path(f"{json_path}.partial.jsonl")


def journal(path: str | Path, audit: TaskAudit, task: Task, seed: int, batteries: list[str]) -> None:
    """Append one task's audit (fsync'd: a kill loses at most the line being written)."""
    append_jsonl(path, [{"seed": seed, "batteries": batteries, "task": task.to_dict(), "audit": audit.to_dict()}])


def read_journal(path: str | Path, tasks: list[Task], seed: int, batteries: list[str]) -> dict[str, TaskAudit]:
    """The audits in the journal at ``path`` of those ``tasks`` that were audited exactly as they are now (the same
    task, seed and batteries), by task id."""
    wanted = {task.id: (_normal(task.to_dict()), task) for task in tasks}
    found: dict[str, TaskAudit] = {}
    for row in read_jsonl(path):
        task_id = row.get("task", {}).get("id")
        if task_id not in wanted or row.get("seed") != seed or row.get("batteries") != batteries:
            continue
        stored, task = wanted[task_id]
        if row["task"] == stored:
            found[task_id] = audit_from_dict(row["audit"], task)
    return found


def audit_from_dict(raw: dict[str, Any], task: Task | None = None) -> TaskAudit:
    """A :class:`TaskAudit` from its ``to_dict()`` (the observations and actions as JSON kept them)."""
    findings = [Finding(f["exploit"], f["must"], float(f["reward"]), tuple(f["actions"]), f.get("detail", ""),
                        f.get("error"), f.get("observation", ""), int(f.get("seed", 0))) for f in raw["findings"]]
    return TaskAudit(raw["task_id"], raw["family"], raw["verdict"], findings, int(raw["probes"]),
                     float(raw["seconds"]), task)


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


def task_table(report: AuditReport) -> Table:
    """One row per task that is ok, one per finding of the others: task, verdict, exploit class, reward, and the
    actions that reproduce it (played after ``env.reset(seed=SEED, options={"task": task})``)."""
    table = Table(Column("task", overflow="fold"), "verdict", "exploit", "reward", "reproduce (actions after reset)",
                  title=f"audit of {escape(report.env)}: {_count(len(report.tasks), 'task')}", show_lines=False)
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
    return (f"{_count(len(report.tasks), 'task')}, {_count(probes, 'probe')}, {report.seconds:.1f} s: "
            f"[green]{verdicts['ok']} ok[/], "
            f"[bold red]{verdicts['hackable']} hackable[/], [yellow]{verdicts['broken']} broken[/]")


def show(report: AuditReport, console: Console) -> None:
    """The task table, the summary by exploit class and the verdict counts."""
    console.print(task_table(report))
    console.print(summary_table(report))
    console.print(verdict_line(report), highlight=False)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' if number != 1 else ''}"


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
