"""pass@k against the reference estimator, and intervals on known cases."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from selfgym.eval import bootstrap_interval, mcnemar_test, mean_pass_at_k, pass_at_k, wilson_interval


def reference_pass_at_k(n, c, k):  # the formula as written, with exact integers (Chen et al., 2021)
    return 1.0 if n - c < k else 1 - comb(n - c, k) / comb(n, k)


@pytest.mark.parametrize("n, c, k", [(10, 0, 1), (10, 1, 1), (10, 3, 5), (200, 17, 10), (200, 17, 100),
                                     (5, 5, 5), (1, 1, 1), (100, 99, 1), (100, 1, 100)])
def test_pass_at_k_matches_the_reference(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(reference_pass_at_k(n, c, k), rel=1e-9, abs=1e-12)


def test_pass_at_k_known_values_and_errors():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the success rate
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert mean_pass_at_k([4, 10], [1, 3], 1) == pytest.approx((0.25 + 0.3) / 2)
    with pytest.raises(ValueError, match="at least k=5"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)


def test_wilson_interval_known_cases():
    low, high = wilson_interval(50, 100)  # the textbook case: 0.5 ± 0.096
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    low, high = wilson_interval(0, 10)  # no successes: still a real upper bound, unlike the normal interval
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_coverage_is_near_nominal():
    rng = np.random.default_rng(0)
    p, n = 0.2, 40
    hits = sum(low <= p <= high for low, high in (wilson_interval(rng.binomial(n, p), n) for _ in range(4000)))
    assert 0.92 <= hits / 4000 <= 0.98  # discreteness makes the exact coverage oscillate around 0.95


def test_bootstrap_interval_brackets_the_mean():
    values = np.random.default_rng(1).normal(3.0, 1.0, size=400)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high and high - low == pytest.approx(2 * 1.96 / 20, rel=0.15)


def reference_mcnemar_p(gains, losses):  # exact two-sided binomial tail, with integers
    n, fewer = gains + losses, min(gains, losses)
    return min(1.0, 2 * sum(comb(n, i) for i in range(fewer + 1)) / 2**n)


@pytest.mark.parametrize("gains, losses, same", [(10, 0, 5), (12, 3, 40), (5, 5, 0), (1, 0, 9), (3, 17, 2)])
def test_mcnemar_counts_only_the_changed_tasks(gains, losses, same):
    before = [False] * gains + [True] * losses + [True] * same + [False] * same
    after = [True] * gains + [False] * losses + [True] * same + [False] * same
    result = mcnemar_test(before, after)
    assert (result["gains"], result["losses"]) == (gains, losses)
    assert result["p_value"] == pytest.approx(reference_mcnemar_p(gains, losses), rel=1e-9)


def test_mcnemar_without_changes_and_with_unpaired_results():
    assert mcnemar_test([True, False], [True, False]) == {"gains": 0, "losses": 0, "p_value": 1.0}
    with pytest.raises(ValueError, match="same tasks"):
        mcnemar_test([True], [True, False])
