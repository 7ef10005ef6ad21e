"""Evaluation: statistics (pass@k, intervals); suites, runs and leaderboards build on them."""

from .stats import bootstrap_interval, mean_pass_at_k, pass_at_k, wilson_interval

__all__ = ["bootstrap_interval", "mean_pass_at_k", "pass_at_k", "wilson_interval"]
