"""The statistics of an evaluation: unbiased pass@k, and confidence intervals for success rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one task (Chen et al., 2021): 1 - C(n - c, k) / C(n, k), with ``n`` attempts of which
    ``c`` succeeded. Computed as a stable product, not with factorials."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs at least k={k} attempts per task, got n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(attempts: Sequence[int], successes: Sequence[int], k: int) -> float:
    """pass@k averaged over tasks, from each task's number of attempts and successes."""
    if len(attempts) != len(successes) or not attempts:
        raise ValueError("attempts and successes must be non-empty and of equal length")
    return float(np.mean([pass_at_k(n, c, k) for n, c in zip(attempts, successes, strict=True)]))


def wilson_interval(successes: float, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (right near 0 and 1, where the normal one is not)."""
    if trials <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, float(centre - half)), min(1.0, float(centre + half)))


def bootstrap_interval(values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (for rewards that are not 0/1, or pass@k)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def mcnemar_test(before: Sequence[bool], after: Sequence[bool]) -> dict[str, float]:
    """Exact McNemar test of two 0/1 results on the same tasks (e.g. a model before and after training).

    Only the tasks whose result changed carry evidence: under "no difference", a change is as likely to be a
    gain as a loss, so the number of gains among the ``gains + losses`` changes is Binomial(n, 1/2). Returns
    ``gains``, ``losses`` and the two-sided ``p_value`` (1.0 when nothing changed).
    """
    if len(before) != len(after):
        raise ValueError(f"paired results need the same tasks: got {len(before)} before, {len(after)} after")
    gains = sum(1 for old, new in zip(before, after, strict=True) if new and not old)
    losses = sum(1 for old, new in zip(before, after, strict=True) if old and not new)
    p_value = stats.binomtest(gains, gains + losses, 0.5).pvalue if gains + losses else 1.0
    return {"gains": gains, "losses": losses, "p_value": float(p_value)}
