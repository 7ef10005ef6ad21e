"""Where episodes run: executors (in this process, or Ray env workers on a cluster) and their errors.

:func:`make_executor` builds one (``local`` or ``ray``); :meth:`Executor.make_envs` gives envs for lockstep
rollouts (on Ray: :class:`~selfgym.runtime.env_workers.WorkerEnv` proxies of envs in env workers), and
:meth:`Executor.map_unordered` maps independent work over workers. Ray is imported only by the Ray executor.
"""

from .errors import ExecutorError, WorkerLostError
from .executors import Executor, LocalExecutor, RayExecutor, make_executor

__all__ = ["Executor", "ExecutorError", "LocalExecutor", "RayExecutor", "WorkerLostError", "make_executor"]
