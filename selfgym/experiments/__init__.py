"""Experiments from YAML (``selfgym run FILE.yaml``): a validated config, one run folder, one method class each.

:func:`load_experiment` reads a file (:class:`ConfigError` with file, line and key); :class:`ExperimentRunner`
runs it in its run folder, resumably; :data:`METHODS` are the methods (eval-only, Reflexion, STaR / Re-ReST,
GRPO) behind one interface (:class:`Method`).
"""

from .config import ConfigError, ExperimentConfig, load_experiment
from .methods import METHODS, Method
from .runner import ExperimentRunner, build_policy

__all__ = ["METHODS", "ConfigError", "ExperimentConfig", "ExperimentRunner", "Method", "build_policy",
           "load_experiment"]
