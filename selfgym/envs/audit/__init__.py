"""``selfgym audit``: play an adversarial battery against tasks before they are used, and report the hackable ones.

See :mod:`.base` for the runner and its types; the batteries are in :mod:`.math`, :mod:`.code`, :mod:`.web` and
:mod:`.shell`, the tables and JSON in :mod:`.report`.
"""

from .base import (
    BATTERY_MODULES,
    AuditReport,
    Battery,
    Finding,
    Probe,
    TaskAudit,
    audit_task,
    audit_tasks,
    default_batteries,
    play,
)

__all__ = ["BATTERY_MODULES", "AuditReport", "Battery", "Finding", "Probe", "TaskAudit", "audit_task", "audit_tasks",
           "default_batteries", "play"]
