"""What an allocation maximises: small factories returning closures that validate arguments once.

Two kinds:

* **weights** (``conversions()``, ``revenue()``): ``weights(curves) -> (n_draws, n_arms)``
  multipliers of each curve's ``beta``. The exact solver maximises the posterior mean (or one
  draw) of the weighted curves, which stay concave, so water-filling stays exact.
* **risk aggregators** (``expected()``, ``quantile(q)``, ``value_at_risk(alpha)``):
  ``agg(totals) -> (value, draw_weights)`` turn per-draw totals into one number and say how much
  each draw counts in its gradient. Only :func:`amplify.allocate.solve.solve_scipy` uses them: a
  risk-averse objective is not a mean of concave curves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from amplify.curves import ResponseCurves

__all__ = [
    "Aggregator",
    "Weights",
    "conversions",
    "expected",
    "quantile",
    "revenue",
    "value_at_risk",
]

FloatArray = NDArray[np.float64]
Weights = Callable[[ResponseCurves], FloatArray]
Aggregator = Callable[[FloatArray], tuple[float, FloatArray]]


def conversions() -> Weights:
    """Maximise expected conversions (the default)."""

    def weights(curves: ResponseCurves) -> FloatArray:
        return np.ones_like(curves.beta)

    weights.__name__ = "conversions"
    return weights


def revenue() -> Weights:
    """Maximise expected revenue (conversions times each draw's value per conversion).

    The closure raises ``ValueError`` on curves without ``value``.
    """

    def weights(curves: ResponseCurves) -> FloatArray:
        if curves.value is None:
            raise ValueError(
                "the revenue objective needs curves with value (revenue per conversion)"
            )
        return np.asarray(curves.value, dtype=float)

    weights.__name__ = "revenue"
    return weights


def expected() -> Aggregator:
    """The posterior mean of the per-draw totals."""

    def agg(totals: FloatArray) -> tuple[float, FloatArray]:
        t = np.asarray(totals, dtype=float)
        return float(t.mean()), np.full(t.shape, 1.0 / t.size)

    return agg


def quantile(q: float) -> Aggregator:
    """The ``q`` quantile of the per-draw totals (``q=0.1``: what we get in a bad case, 1 in 10)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile: q must be in (0, 1), got {q}")

    def agg(totals: FloatArray) -> tuple[float, FloatArray]:
        t = np.asarray(totals, dtype=float)
        order = np.argsort(t, kind="stable")
        pos = q * (t.size - 1)
        i0 = int(np.floor(pos))
        i1 = min(i0 + 1, t.size - 1)
        frac = pos - i0
        w = np.zeros(t.size)
        w[order[i0]] += 1.0 - frac
        w[order[i1]] += frac
        return float(w @ t), w

    return agg


def value_at_risk(alpha: float = 0.1) -> Aggregator:
    """Mean of the worst ``alpha`` share of draws (conditional value at risk, CVaR): cautious."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"value_at_risk: alpha must be in (0, 1], got {alpha}")

    def agg(totals: FloatArray) -> tuple[float, FloatArray]:
        t = np.asarray(totals, dtype=float)
        n_tail = max(1, round(alpha * t.size))
        order = np.argsort(t, kind="stable")[:n_tail]
        w = np.zeros(t.size)
        w[order] = 1.0 / n_tail
        return float(w @ t), w

    return agg
