"""True spend -> conversions curves of the campaign world, and the exact oracle split for them.

The model assumes ``beta * s / (1 + s / k)``; the campaign world deliberately uses other shapes so
that a benchmark measures how the allocator copes with a misspecified model:

* ``"hill"``: ``A * s**n / (s**n + K**n)``; ``n > 1`` is S-shaped (a learning phase before
  returns rise);
* ``"power"``: ``c * s**a`` with ``0 < a < 1`` (never saturates, infinite marginal return at 0);
* ``"tanh"``: ``A * tanh(s / K)`` (saturates hard).

Every curve is anchored by an efficiency ``eff`` and a saturation spend ``K`` so that
``f(K) = eff * K / 2``: the same average cost per conversion at ``K`` whatever the family.
:func:`oracle_split` finds the best split of a budget over possibly non-concave curves: an exact
dynamic programme on a grid of the budget, then local pairwise refinement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

__all__ = ["FAMILIES", "CurveSet", "make_curves", "oracle_split"]

FloatArray = NDArray[np.float64]
FAMILIES: tuple[str, ...] = ("hill", "power", "tanh")


@dataclass(frozen=True)
class CurveSet:
    """One true curve per arm: ``family[j]`` with ``scale`` (A or c), ``K`` and ``shape`` (n or a).

    Evaluate with :meth:`value` on spends of shape ``(..., n_arms)``.
    """

    family: tuple[str, ...]
    scale: FloatArray
    K: FloatArray
    shape: FloatArray

    def __post_init__(self) -> None:
        n = len(self.family)
        for name in ("scale", "K", "shape"):
            arr = np.asarray(getattr(self, name), dtype=float).reshape(n)
            if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
                raise ValueError(f"CurveSet.{name} must be finite and positive")
            object.__setattr__(self, name, arr)
        unknown = set(self.family) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown curve families {sorted(unknown)}; known: {list(FAMILIES)}")
        object.__setattr__(self, "family", tuple(self.family))

    @property
    def n_arms(self) -> int:
        return len(self.family)

    def _masks(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
        fam = np.array(self.family)
        return fam == "hill", fam == "power", fam == "tanh"

    def value(self, spend: ArrayLike) -> FloatArray:
        """Expected conversions for ``spend`` of shape ``(..., n_arms)`` (negative spend = 0)."""
        s = np.maximum(np.asarray(spend, dtype=float), 0.0)
        if s.shape[-1:] != (self.n_arms,):
            raise ValueError(
                f"spend has shape {s.shape}; the last axis must have {self.n_arms} arms"
            )
        out = np.empty(s.shape, dtype=float)
        hill, power, tanh = self._masks()
        if hill.any():
            sn = s[..., hill] ** self.shape[hill]
            out[..., hill] = self.scale[hill] * sn / (sn + self.K[hill] ** self.shape[hill])
        if power.any():
            out[..., power] = self.scale[power] * s[..., power] ** self.shape[power]
        if tanh.any():
            out[..., tanh] = self.scale[tanh] * np.tanh(s[..., tanh] / self.K[tanh])
        return out

    def value_arm(self, j: int, spend: float) -> float:
        """Expected conversions of arm ``j`` at a scalar ``spend`` (fast path for local search)."""
        s = max(float(spend), 0.0)
        fam, a, K, n = self.family[j], float(self.scale[j]), float(self.K[j]), float(self.shape[j])
        if fam == "hill":
            sn = s**n
            return a * sn / (sn + K**n)
        if fam == "power":
            return a * s**n
        return a * math.tanh(s / K)

    def scaled(self, multiplier: ArrayLike) -> CurveSet:
        """The same curves with every arm's output multiplied by ``multiplier`` (per arm)."""
        m = np.broadcast_to(np.asarray(multiplier, dtype=float), (self.n_arms,))
        return replace(self, scale=self.scale * m)

    def permuted(self, order: ArrayLike) -> CurveSet:
        """Arm ``j`` gets the curve of arm ``order[j]``."""
        idx = np.asarray(order, dtype=int)
        return CurveSet(
            family=tuple(self.family[i] for i in idx),
            scale=self.scale[idx],
            K=self.K[idx],
            shape=self.shape[idx],
        )


def make_curves(
    family: tuple[str, ...], eff: ArrayLike, K: ArrayLike, shape: ArrayLike
) -> CurveSet:
    """Curves anchored so that ``f(K) = eff * K / 2`` in every family.

    Parameters
    ----------
    family
        Family name per arm.
    eff
        Conversions per unit of spend that sets the level (average CPA at ``K`` is ``2 / eff``).
    K
        Saturation spend per arm.
    shape
        Hill slope ``n`` (hill), exponent ``a`` (power); ignored for tanh.
    """
    eff_a = np.asarray(eff, dtype=float)
    K_a = np.asarray(K, dtype=float)
    shape_a = np.asarray(shape, dtype=float).copy()
    scale = np.empty_like(eff_a)
    for j, fam in enumerate(family):
        half = eff_a[j] * K_a[j] / 2.0
        if fam == "hill":
            scale[j] = 2.0 * half  # A/2 at s = K
        elif fam == "power":
            scale[j] = half / K_a[j] ** shape_a[j]
        elif fam == "tanh":
            scale[j] = half / math.tanh(1.0)
            shape_a[j] = 1.0
        else:
            raise ValueError(f"unknown curve family {fam!r}; known: {list(FAMILIES)}")
    return CurveSet(family=tuple(family), scale=scale, K=K_a, shape=shape_a)


def oracle_split(
    curves: CurveSet,
    budget: float,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    *,
    n_grid: int = 400,
    refine_levels: int = 10,
) -> FloatArray:
    """The best split of ``budget`` over ``curves`` (increasing, possibly S-shaped).

    A dynamic programme over the budget in ``n_grid`` equal steps gives the best split on the grid
    exactly (no concavity needed); pairwise moves of shrinking size (down to ``step /
    2**refine_levels``) then refine it.

    Parameters
    ----------
    curves
        The true curves.
    budget
        Total spend; all of it is spent (curves are increasing) unless the upper bounds sum to less.
    lower, upper
        Optional per-arm bounds.

    Returns
    -------
    numpy.ndarray
        Spend per arm, shape ``(n_arms,)``.
    """
    n = curves.n_arms
    lo = np.zeros(n) if lower is None else np.broadcast_to(np.asarray(lower, float), (n,)).copy()
    hi = (
        np.full(n, np.inf)
        if upper is None
        else np.broadcast_to(np.asarray(upper, float), (n,)).copy()
    )
    if not (math.isfinite(budget) and budget >= 0):
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    if np.any(lo < 0) or np.any(hi < lo):
        raise ValueError("bounds must satisfy 0 <= lower <= upper for every arm")
    if lo.sum() > budget * (1 + 1e-12) + 1e-9:
        raise ValueError(f"the lower bounds sum to {lo.sum():.2f}, above the budget {budget:.2f}")
    if hi.sum() <= budget:
        return hi.astype(float)
    free = budget - lo.sum()
    if free <= 0:
        return lo.astype(float)

    # --- dynamic programme on the grid: V[b] = best value with at most b grid steps
    g = int(n_grid)
    h = free / g
    steps = np.arange(g + 1)
    cap = np.minimum(np.floor((hi - lo) / h + 1e-9), g).astype(int)
    grid_spend = lo[None, :] + steps[:, None] * h  # (g+1, n)
    vals = curves.value(np.minimum(grid_spend, hi[None, :]))  # (g+1, n)
    vals[steps[:, None] > cap[None, :]] = -np.inf
    choice = np.empty((n, g + 1), dtype=np.int64)
    V = np.zeros(g + 1)
    pad = np.full(g, -np.inf)
    for j in range(n):
        window = sliding_window_view(np.concatenate([pad, V]), g + 1)[:, ::-1]  # [b, x] = V[b - x]
        cand = window + vals[:, j][None, :]
        best = np.argmax(cand, axis=1)
        choice[j] = best
        V = cand[steps, best]
    x = np.empty(n, dtype=np.int64)
    b = g
    for j in range(n - 1, -1, -1):
        x[j] = choice[j, b]
        b -= x[j]
    s = lo + x * h

    # --- spend what the caps left over, then refine by pairwise moves
    rest = budget - s.sum()
    for _ in range(n):
        if rest <= 1e-9 * max(budget, 1.0):
            break
        room = hi - s
        delta = np.minimum(room, rest)
        gain = curves.value(s + delta) - curves.value(s)
        gain[delta <= 0] = -np.inf
        j = int(np.argmax(gain))
        s[j] += delta[j]
        rest -= delta[j]
    return _refine(curves, s, lo, hi, h, refine_levels)


def _refine(
    curves: CurveSet, s: FloatArray, lo: FloatArray, hi: FloatArray, h: float, levels: int
) -> FloatArray:
    """Move spend between pairs of arms while it helps, with steps ``h/2, h/4, ...``.

    Each move takes ``d`` from the arm that loses least and gives it to the arm that gains most;
    only the two arms touched are re-evaluated, so a move costs O(n_arms).
    """
    n = curves.n_arms
    if n < 2:
        return s
    s = s.copy()
    f = curves.value_arm
    val = np.array([f(j, s[j]) for j in range(n)])
    tol = 1e-13 * max(float(val.sum()), 1.0)

    def gain_of(j: int, d: float) -> float:
        return f(j, s[j] + d) - val[j] if s[j] + d <= hi[j] + 1e-12 else -np.inf

    def loss_of(j: int, d: float) -> float:
        return val[j] - f(j, s[j] - d) if s[j] - d >= lo[j] - 1e-12 else np.inf

    d = h
    for _ in range(levels):
        d /= 2.0
        gain = np.array([gain_of(j, d) for j in range(n)])
        loss = np.array([loss_of(j, d) for j in range(n)])
        for _ in range(4 * n + 16):
            i = int(np.argmax(gain))
            masked = loss.copy()
            masked[i] = np.inf
            j = int(np.argmin(masked))
            if not gain[i] - masked[j] > tol:
                # the best receiver may also be the cheapest giver: try the second-best receiver
                g2 = gain.copy()
                g2[i] = -np.inf
                i2 = int(np.argmax(g2))
                if not (i2 != i and g2[i2] - loss[i] > tol):
                    break
                i, j = i2, i
            s[i] += d
            s[j] -= d
            val[i] = f(i, s[i])
            val[j] = f(j, s[j])
            for m in (i, j):
                gain[m] = gain_of(m, d)
                loss[m] = loss_of(m, d)
    return s
