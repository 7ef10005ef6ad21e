"""The parts of ``selfgym/Shell-v0``: task specs, the shipped tasks, and the bash session an agent drives."""

from .session import SESSION_SCRIPT, STATE_DIR, clip_middle, describe, run_action
from .spec import (
    FAMILY,
    ShellTaskEntry,
    ShellTaskSpec,
    load_task_file,
    parse_submit,
    shipped_tasks,
    shipped_tasks_dir,
    spec_of,
    tasks_from_entries,
)

__all__ = ["FAMILY", "SESSION_SCRIPT", "STATE_DIR", "ShellTaskEntry", "ShellTaskSpec", "clip_middle",
           "describe", "load_task_file", "parse_submit", "run_action", "shipped_tasks", "shipped_tasks_dir", "spec_of",
           "tasks_from_entries"]
