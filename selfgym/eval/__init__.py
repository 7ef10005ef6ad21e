"""Evaluation: suites (YAML), runs of an agent over a suite (local threads or Ray actors, resumable),
summaries with pass@k and intervals, and leaderboards.

    from selfgym.eval import run_eval
    summary = run_eval("code", "openai:my-model@http://127.0.0.1:8000/v1", "runs/eval/code/my-model")

The command line does the same: ``selfgym eval code --agent ...`` and ``selfgym leaderboard RUN...``. Agents
are :class:`selfgym.agents.AgentSpec` values (``parse_agent`` reads ``--agent`` strings).
"""

from .leaderboard import (
    LeaderboardError,
    build_leaderboard,
    load_summaries,
    to_html,
    to_markdown,
    write_leaderboard,
)
from .runner import EpisodeLog, EvalError, RolloutWorker, run_eval
from .stats import bootstrap_interval, mcnemar_test, mean_pass_at_k, pass_at_k, wilson_interval
from .suite import Episode, ExpandedSuite, Suite, SuiteError, expand_suite, load_suite, shipped_suites
from .summary import summarize

__all__ = [
    "Episode", "EpisodeLog", "EvalError", "ExpandedSuite", "LeaderboardError", "RolloutWorker", "Suite",
    "SuiteError", "bootstrap_interval", "build_leaderboard", "expand_suite", "load_suite", "load_summaries",
    "mcnemar_test", "mean_pass_at_k", "pass_at_k", "run_eval", "shipped_suites", "summarize", "to_html",
    "to_markdown", "wilson_interval", "write_leaderboard",
]
