"""Harbor task directories (the format terminal-bench moved to) in selfgym: read, played in Shell-v0, exported.

* :func:`read_tasks` / :func:`read_task`: a Harbor task directory (``task.toml``, ``instruction.md``,
  ``environment/``, ``tests/test.sh``, ``solution/solve.sh``), a terminal-bench one (``task.yaml``), or a folder
  of them, as :class:`~selfgym.envs.Task` objects for ``selfgym/Shell-v0`` (``ShellEnv(tasks=DIR)``).
* :class:`HarborEpisode`: how Shell-v0 sets such a task's environment up and runs its verifier.
* Writing tasks as Harbor directories is :mod:`selfgym.envs.shell.export` (``selfgym tasks export``).
"""

from .episode import EnvironmentSetupError, HarborEpisode
from .images import TaskImageError
from .reader import TaskDirError, is_task_dir, read_task, read_tasks, wrong_attempts
from .spec import HarborSpec, harbor_spec_of
from .verifier import Verdict

__all__ = ["EnvironmentSetupError", "HarborEpisode", "HarborSpec", "TaskDirError", "TaskImageError", "Verdict",
           "harbor_spec_of", "is_task_dir", "read_task", "read_tasks", "wrong_attempts"]
