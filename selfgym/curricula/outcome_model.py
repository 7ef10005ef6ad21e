"""How likely the current agent is to solve a task it may never have seen: the critic of the self-evolving
curriculum (WebRL's outcome-reward model role, here fitted from outcomes rather than trained on text).

Per family, success is modelled as ``sigmoid(bias + slope * difficulty)``, fitted by recency-weighted,
ridge-regularised logistic regression on the family's last ``window`` outcomes. A handful of outcomes already
place a new task of any difficulty (an arm's observed rate knows nothing of a level it never played), and the
weights forget the agent that was: the fit follows the learner as it improves.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..envs.task import Task


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


class OutcomeModel:
    """Predicts P(success) of a task from its family and ``difficulty``.

    Args:
        window: outcomes kept per family (the oldest go first).
        half_life: outcomes after which an outcome weighs half as much as the newest.
        prior_slope: the slope (per unit of difficulty) the fit is pulled towards, ``ridge`` how hard; the
            bias is pulled towards 0 (p = 0.5 at difficulty 0) with the same strength.

    A family's fit is redone (from the prior, ~0.1 ms) when it is next asked for after a new outcome: it depends
    on the outcomes alone, so a curriculum restored from its state draws exactly as the original would.
    """

    def __init__(self, *, window: int = 256, half_life: float = 16.0, prior_slope: float = -1.0,
                 ridge: float = 0.1) -> None:
        if window < 1 or half_life <= 0 or ridge <= 0:
            raise ValueError(f"window must be >= 1, half_life and ridge > 0 (got {window}, {half_life}, {ridge})")
        self.window, self.half_life, self.prior_slope, self.ridge = window, half_life, prior_slope, ridge
        self.outcomes: dict[str, deque[tuple[float, float]]] = {}
        self._fits: dict[str, np.ndarray] = {}  # per family, dropped at each new outcome

    def observe(self, task: Task, success: float) -> None:
        """Record one outcome (success in [0, 1]) of ``task``."""
        family = task.family
        self.outcomes.setdefault(family, deque(maxlen=self.window)).append((float(task.difficulty), float(success)))
        self._fits.pop(family, None)

    def predict(self, task: Task) -> float:
        """P(success) of ``task`` for the agent as its last outcomes show it."""
        return float(self.predict_many(task.family, np.array([float(task.difficulty)]))[0])

    def predict_many(self, family: str, difficulties: np.ndarray) -> np.ndarray:
        """P(success) of tasks of ``family`` at each of ``difficulties`` (shape (n,) -> (n,))."""
        bias, slope = self._fit(family)
        return sigmoid(bias + slope * np.asarray(difficulties, dtype=float))

    def slope(self, family: str) -> float:
        """The fitted change of log-odds of success per unit of difficulty (negative where harder is harder;
        about 0 where success does not depend on difficulty: luck, or a family the agent cannot learn)."""
        return float(self._fit(family)[1])

    def _fit(self, family: str) -> np.ndarray:
        fit = self._fits.get(family)
        if fit is not None:
            return fit
        prior = np.array([0.0, self.prior_slope])
        data = self.outcomes.get(family)
        w = prior.copy()
        if data:
            x = np.array([d for d, _ in data])
            y = np.array([s for _, s in data])
            features = np.stack([np.ones_like(x), x], axis=1)  # (n, 2)
            age = np.arange(len(x))[::-1]  # 0 for the newest
            weight = 0.5 ** (age / self.half_life)

            def loss(w: np.ndarray) -> float:
                z = features @ w
                return float(weight @ (np.logaddexp(0, z) - y * z) + 0.5 * self.ridge * ((w - prior) ** 2).sum())

            current = loss(w)
            for _ in range(20):  # damped Newton on the penalised log-likelihood (convex)
                p = sigmoid(features @ w)
                gradient = features.T @ (weight * (p - y)) + self.ridge * (w - prior)
                hessian = (features * (weight * p * (1 - p))[:, None]).T @ features + self.ridge * np.eye(2)
                step = np.linalg.solve(hessian, gradient)
                scale = 1.0
                while scale > 1e-3 and loss(w - scale * step) > current:
                    scale /= 2
                w = w - scale * step
                current = loss(w)
                if np.abs(scale * step).max() < 1e-6:
                    break
        self._fits[family] = w
        return w

    def state_dict(self) -> dict[str, Any]:
        return {"outcomes": {family: [list(o) for o in data] for family, data in self.outcomes.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.outcomes = {family: deque((tuple(o) for o in data), maxlen=self.window)
                         for family, data in state["outcomes"].items()}
        self._fits = {}
