"""``selfgym audit``: play an adversarial battery against tasks before they are used, and report the hackable ones.

See :mod:`.base` for the runner and its types; the batteries are in :mod:`.math`, :mod:`.code`, :mod:`.web` and
:mod:`.shell`, the tables and JSON in :mod:`.report`, where tasks come from and :func:`audit_source` (what
``selfgym audit`` runs) in :mod:`.sources`, and :class:`TaskAuditor` (one task at a time: a curriculum's gate) in
:mod:`.gate`.
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
from .gate import TaskAuditor
from .sources import AuditSourceError, audit_source, load_tasks

__all__ = ["BATTERY_MODULES", "AuditReport", "AuditSourceError", "Battery", "Finding", "Probe", "TaskAudit",
           "TaskAuditor", "audit_source", "audit_task", "audit_tasks", "default_batteries", "load_tasks", "play"]
