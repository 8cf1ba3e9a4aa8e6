"""The exact best split of a budget over concave response curves: water-filling on marginal return.

For a multiplier ``lam`` (the marginal return every funded arm shares at the optimum), arm ``j`` of
one posterior draw spends ``k * (sqrt(beta / lam) - 1)`` clipped into its box. We search the *level*
``y = lam ** -0.5``: spend is piecewise linear in ``y`` for one draw, so a bracketed Newton search
on ``y`` hits the budget in a few steps, vectorised over a batch of draws. For the posterior-mean
curve (a mean of concave curves, still concave) the level ``m(s) ** -0.5`` of each arm is concave in
``s`` (a power mean of linear functions): with boxes and the budget only, Newton on spend and level
together (every arm's level linearised at its spend, the common level of the linearised problem
solved exactly) reaches the optimum in 2-9 passes over the draws; with platform bounds, a minimum
spend or a CPA/ROAS target, the spend at each trial level is found per arm by Newton on that
concave level, which converges monotonically from the left. Both are exact: the KKT conditions of a
separable concave problem with boxes and a sum constraint.

Constraints, all by the same machinery:

* per-platform min / max / lock on the *sum* of a platform's arms (posts): a bound that binds gets
  its own level (solved again on that platform's arms alone) — exact, because the constraints are
  nested;
* maximum change from the previous plan and the extrapolation cap: per-arm boxes (see
  :mod:`.constraints`);
* CPA / ROAS target: the level is capped where the marginal return falls to the target, so the plan
  spends less than the budget only then;
* minimum spend per arm (0 or at least ``min_per_arm``): each arm's curve is replaced by its concave
  envelope (a straight line from 0 to the minimum, then the curve), which is solved exactly; at most
  one arm per level is left part-way up the line, and it is rounded to 0 or to the minimum,
  whichever plan is better after re-solving the rest — repeated until no arm is part-way. Exact for
  platform arms (no minimum); a well-tested heuristic for the 0-or-minimum choice (checked against
  brute force over subsets in the tests);
* step size: spend is floored to the step, then the remainder goes one step at a time to the arm
  that gains most from it, so the sum stays exact.

:func:`solve_sticky` solves the same problem net of a switching cost from yesterday's plan (a
no-trade band: money moves only where marginal returns differ by more than the cost), with the same
core.

Never "sort by ROI and fill": that ignores saturation. :func:`solve_scipy` is a generic SLSQP
fallback (risk-averse objectives, arbitrary starting points), tested for agreement with
water-filling where both apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amplify.allocate.constraints import (
    Compiled,
    Constraints,
    Group,
    _hits,
    _reachable,
    compile_constraints,
)
from amplify.allocate.objectives import Aggregator, Weights, conversions, expected, revenue
from amplify.curves import ResponseCurves

__all__ = [
    "project",
    "solve",
    "solve_compiled",
    "solve_draws",
    "solve_scipy",
    "solve_sticky",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_TOL = 1e-11  # relative tolerance on money sums
_MAX_ITER = 200
_MAX_FILL_STEPS = 50  # Newton steps of _Mixture.fill before falling back to _fill


# --------------------------------------------------------------------------------------------------
# responses: spend of each arm at a level y (increasing in y; y = 0: nothing beyond lower bounds)
# --------------------------------------------------------------------------------------------------


class _Response(Protocol):
    rows: int

    def spend(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Unclipped spend and d spend / d y at levels ``y`` (rows, n)."""
        ...

    def level_at(self, s: FloatArray) -> FloatArray:
        """The level at which each arm reaches spend ``s`` (``inf`` if never)."""
        ...

    def average_level(self, m: float) -> FloatArray:
        """The level where the average return over the first ``m`` is the marginal one."""
        ...

    def value(self, s: FloatArray) -> FloatArray:
        """Objective value per row and arm at spend ``s`` (rows, n)."""
        ...

    def take(self, rows: IntArray, arms: IntArray) -> _Response: ...


def _inv_sqrt(x: FloatArray) -> FloatArray:
    """``x ** -0.5``, ``inf`` where ``x <= 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, 1.0 / np.sqrt(np.maximum(x, 0.0)), np.inf)


class _MM:
    """One Michaelis-Menten curve per row (posterior draw) and arm."""

    def __init__(self, b: FloatArray, k: FloatArray) -> None:
        self.b = b
        self.k = k
        self.sqrt_b = np.sqrt(b)
        self.rows = int(b.shape[0])

    def spend(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        slope = self.k * self.sqrt_b
        return slope * y - self.k, slope

    def level_at(self, s: FloatArray) -> FloatArray:
        return (1.0 + s / self.k) * _inv_sqrt(self.b)

    def average_level(self, m: float) -> FloatArray:
        return np.sqrt(1.0 + m / self.k) * _inv_sqrt(self.b)

    def value(self, s: FloatArray) -> FloatArray:
        return self.b * s / (1.0 + s / self.k)

    def take(self, rows: IntArray, arms: IntArray) -> _MM:
        return _MM(self.b[np.ix_(rows, arms)], self.k[np.ix_(rows, arms)])


class _Mixture:
    """The posterior-mean curve of each arm: the mean over draws of Michaelis-Menten curves (one
    row).

    Arrays are stored arm-major, ``(n, n_draws)``, so the means over draws are contiguous row
    reductions.
    """

    def __init__(self, b: FloatArray, k: FloatArray) -> None:
        self.b = np.ascontiguousarray(b.T)  # (n, n_draws)
        self.k = np.ascontiguousarray(k.T)
        self.inv_k = 1.0 / self.k
        self.bk = self.b * self.inv_k
        self.n_draws = int(b.shape[0])
        self.k_scale = self.k.mean(axis=1)
        self.rows = 1
        self._warm = np.zeros(self.b.shape[0])
        self.h0, self.dh0 = self._h(np.zeros(self.b.shape[0]))
        self.dead = ~np.isfinite(self.h0)

    def _h(self, s: FloatArray, arms: IntArray | None = None) -> tuple[FloatArray, FloatArray]:
        """``h(s) = m(s) ** -0.5`` and its derivative for ``s`` of shape (n,) (or ``arms`` only)."""
        if arms is None:
            b, bk, inv_k = self.b, self.bk, self.inv_k
        else:
            b, bk, inv_k = self.b[arms], self.bk[arms], self.inv_k[arms]
        inv_u = 1.0 / (1.0 + s[:, None] * inv_k)
        inv_u2 = inv_u * inv_u
        m = np.einsum("ij,ij->i", b, inv_u2) / self.n_draws
        inv_u2 *= inv_u
        m3 = np.einsum("ij,ij->i", bk, inv_u2) / self.n_draws
        h = _inv_sqrt(m)
        dh = np.where(m > 0, m3 * np.where(np.isfinite(h), h, 0.0) ** 3, 0.0)
        return h, dh

    def spend(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        target = y[0]
        h0, dh0 = self.h0, self.dh0
        below = (target <= h0) | self.dead
        s = np.where(below, 0.0, np.maximum(self._warm, 0.0))
        ds = np.zeros_like(s)
        act = np.flatnonzero(~below)
        for _ in range(100):
            if act.size == 0:
                break
            full = act.size == s.size
            h, dh = self._h(s if full else s[act], None if full else act)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(dh > 0, (target[act] - h) / dh, 0.0)
                ds[act] = np.where(dh > 0, 1.0 / dh, 0.0)
            old = s[act]
            new = np.maximum(old + step, 0.0)
            s[act] = new
            act = act[np.abs(new - old) > 1e-12 * (new + self.k_scale[act])]
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = np.where(dh0 > 0, (target - h0) / dh0, -1.0)
            ds0 = np.where(dh0 > 0, 1.0 / dh0, 0.0)
        self._warm = s.copy()
        s = np.where(self.dead, -1.0, np.where(below, np.minimum(lin, 0.0), s))
        ds = np.where(self.dead, 0.0, np.where(below, ds0, ds))
        return s[None, :], ds[None, :]

    def level_at(self, s: FloatArray) -> FloatArray:
        return self._h(np.asarray(s, dtype=float)[0])[0][None, :]

    def average_level(self, m: float) -> FloatArray:
        avg = (self.b / (1.0 + m * self.inv_k)).mean(axis=1)
        return _inv_sqrt(avg)[None, :]

    def value(self, s: FloatArray) -> FloatArray:
        sv = np.asarray(s, dtype=float)[0]
        col = sv[:, None]
        v = np.einsum("ij,ij->i", self.b, col / (1.0 + col * self.inv_k)) / self.n_draws
        return v[None, :]

    def take(self, rows: IntArray, arms: IntArray) -> _Mixture:
        return _Mixture(self.b[arms].T, self.k[arms].T)

    def fill(self, lo: FloatArray, hi: FloatArray, total: float) -> FloatArray | None:
        """The best split of ``total`` within the boxes ``lo``, ``hi`` (shape (n,)) by Newton on the
        KKT system in spend and level together, or None where it does not apply.

        Each step linearises every arm's level ``h_j`` at its current spend and solves the common
        level of the linearised problem exactly (:func:`_level_for_total`): one pass over the draws
        per step, against a full per-arm Newton solve per level for :func:`_fill`. ``h_j`` is
        concave, so a step never overshoots an arm's spend at a given level; at the fixed point
        every arm inside its box has the same level, which is the optimum's KKT condition. None when
        an arm has no return, the boxes cannot hold ``total``, or it has not converged in
        ``_MAX_FILL_STEPS`` steps: :func:`_fill` then solves it.
        """
        if self.dead.any() or hi.sum() < total or lo.sum() > total:
            return None
        hi = np.minimum(hi, lo + total)  # finite kinks: no arm can take more than the budget
        s = np.clip(np.where(self._warm > 0, self._warm, total / lo.size), lo, hi)
        tol = 1e-12 * (total + self.k_scale)
        for _ in range(_MAX_FILL_STEPS):
            h, dh = self._h(s)
            if not np.all(dh > 0):
                return None
            c = 1.0 / dh
            a = s - h * c
            new = np.clip(a + c * _level_for_total(a, c, lo, hi, total), lo, hi)
            if np.all(np.abs(new - s) <= tol):
                self._warm = new.copy()
                return new
            s = new
        return None


def _level_for_total(
    a: FloatArray, c: FloatArray, lo: FloatArray, hi: FloatArray, total: float
) -> float:
    """The level ``y`` at which ``sum_j clip(a_j + c_j * y, lo_j, hi_j)`` (``c > 0``) is ``total``:
    a non-decreasing piecewise-linear function of ``y``, solved exactly from its sorted kinks."""
    start = (lo - a) / c  # arm j leaves its lower bound
    stop = (hi - a) / c  # and reaches its upper bound
    kinks = np.concatenate([start, stop])
    order = np.argsort(kinks, kind="stable")
    slope = np.cumsum(np.concatenate([c, -c])[order])[:-1]
    y = kinks[order]
    level = float(lo.sum()) + np.concatenate([[0.0], np.cumsum(slope * np.diff(y))])
    return float(np.interp(total, level, y))


class _Linear:
    """Euclidean projection of ``x``: maximise ``-(s - x) ** 2``; spend ``x - shift + y``."""

    def __init__(self, x: FloatArray, shift: FloatArray) -> None:
        self.x = x
        self.shift = shift  # (rows, 1): at y = 0 every arm is at or below its lower bound
        self.rows = int(x.shape[0])

    def spend(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self.x - self.shift + y, np.ones_like(self.x)

    def level_at(self, s: FloatArray) -> FloatArray:
        return s - self.x + self.shift

    def average_level(
        self, m: float
    ) -> FloatArray:  # pragma: no cover - projection has no envelope
        raise NotImplementedError

    def value(self, s: FloatArray) -> FloatArray:
        return -((s - self.x) ** 2)

    def take(self, rows: IntArray, arms: IntArray) -> _Linear:
        return _Linear(self.x[np.ix_(rows, arms)], self.shift[rows])


class _Sticky:
    """A response net of a switching cost: maximise ``f(s) - cost * |s - previous|`` per arm.

    At multiplier ``lam`` (level ``y = lam ** -0.5``) an arm buys while its marginal return exceeds
    ``lam + cost``, sells while it is below ``lam - cost`` and otherwise stays where it was: its
    spend is ``previous`` clipped into ``[s(lam + cost), s(lam - cost)]`` of the inner response (a
    no-trade band, as in portfolio choice with proportional transaction costs). Still increasing in
    the level, so :func:`_fill` finds the level exactly.
    """

    def __init__(self, inner: _Response, previous: FloatArray, cost: float) -> None:
        self.inner = inner
        self.previous = previous  # (rows, n)
        self.cost = float(cost)
        self.rows = inner.rows

    def _levels(self, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Inner levels for buying and selling at level ``y`` and their derivatives in ``y``."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lam = np.where(y > 0, 1.0 / (y * y), np.inf)
            y3 = np.where(y > 0, 1.0 / (y * y * y), 0.0)
            up = lam + self.cost
            dn = lam - self.cost
            y_up = _inv_sqrt(up)
            y_dn = _inv_sqrt(dn)
            dy_up = np.where(np.isfinite(up), up**-1.5 * y3, 0.0)
            dy_dn = np.where(dn > 0, np.where(np.isfinite(dn), dn**-1.5 * y3, 0.0), 0.0)
        return y_up, y_dn, dy_up, dy_dn

    def spend(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        y_up, y_dn, dy_up, dy_dn = self._levels(y)
        s_up, d_up = self.inner.spend(y_up)
        free = np.isfinite(y_dn)  # below the cost the arm would take any amount
        s_dn, d_dn = self.inner.spend(np.where(free, y_dn, y_up))
        s_dn = np.where(free, s_dn, np.inf)
        p = self.previous
        raw = np.clip(p, s_up, s_dn)
        d = np.where(s_up > p, d_up * dy_up, np.where(s_dn < p, d_dn * dy_dn, 0.0))
        return raw, d

    def level_at(self, s: FloatArray) -> FloatArray:
        inner = self.inner.level_at(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            marginal = np.where(inner > 0, 1.0 / (inner * inner), np.inf)
        # past its reach (marginal return below the cost): the level where buying all but stops
        top = _inv_sqrt(np.full_like(marginal, 1e-9 * self.cost))
        sell, buy = _inv_sqrt(marginal + self.cost), _inv_sqrt(marginal - self.cost)
        return np.where(s <= self.previous, sell, np.where(np.isfinite(buy), buy, top))

    def average_level(self, m: float) -> FloatArray:  # pragma: no cover - no minimum rule here
        raise NotImplementedError

    def value(self, s: FloatArray) -> FloatArray:
        return self.inner.value(s) - self.cost * np.abs(s - self.previous)

    def take(self, rows: IntArray, arms: IntArray) -> _Sticky:
        return _Sticky(self.inner.take(rows, arms), self.previous[np.ix_(rows, arms)], self.cost)


# --------------------------------------------------------------------------------------------------
# the core: one level per row hits the row's total (platform-sum bounds clip the platform totals)
# --------------------------------------------------------------------------------------------------


def _singles(n: int, groups: Sequence[Group]) -> IntArray:
    mask = np.ones(n, dtype=bool)
    for g in groups:
        mask[g.arms] = False
    return np.flatnonzero(mask)


def _fill(
    resp: _Response,
    lo: FloatArray,
    hi: FloatArray,
    total: FloatArray,
    m: float,
    floor_level: float | None,
    groups: Sequence[Group],
) -> tuple[FloatArray, FloatArray]:
    """Spend per row and arm at the level where the (platform-clipped) sum reaches ``total`` per
    row.

    Returns the spend (rows, n) and the platform totals (rows, n_groups) the groups must be brought
    to.
    """
    if isinstance(resp, _Mixture) and m <= 0 and floor_level is None and not groups:
        fast = resp.fill(lo[0], hi[0], float(total[0]))
        if fast is not None:
            return fast[None, :], np.zeros((1, 0))
    rows, n = lo.shape
    env = (lo <= 0) & (hi >= m) if m > 0 else np.zeros((rows, n), dtype=bool)
    y_on = resp.average_level(m) if m > 0 else np.zeros((1, 1))
    singles = _singles(n, groups)
    scale = np.maximum(total, 1.0)
    tol = _TOL * scale

    def at(y: FloatArray) -> tuple[FloatArray, FloatArray]:
        yy = np.broadcast_to(y[:, None], (rows, n))
        raw, d = resp.spend(yy)
        if m > 0:
            on = yy >= y_on
            raw = np.where(env, np.where(on, np.maximum(raw, m), 0.0), raw)
            d = np.where(env & ~(on & (raw > m)), 0.0, d)
        inside = (raw > lo) & (raw < hi)
        return np.clip(raw, lo, hi), np.where(inside, d, 0.0)

    def totals(s: FloatArray, d: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        if not groups:
            return s.sum(axis=1), d.sum(axis=1), np.zeros((rows, 0))
        big = s[:, singles].sum(axis=1)
        d_big = d[:, singles].sum(axis=1)
        t_g = np.empty((rows, len(groups)))
        for i, g in enumerate(groups):
            sg = s[:, g.arms].sum(axis=1)
            t_g[:, i] = np.clip(sg, g.lo, g.hi)
            big = big + t_g[:, i]
            d_big = d_big + np.where((sg > g.lo) & (sg < g.hi), d[:, g.arms].sum(axis=1), 0.0)
        return big, d_big, t_g

    # --- bracket ----------------------------------------------------------------------------------
    ya = np.zeros(rows)
    sa, da = at(ya)
    ba, _, ta = totals(sa, da)
    cap = np.minimum(hi, lo + total[:, None])
    lev = resp.level_at(cap)
    if m > 0:
        lev = np.where(env, np.maximum(lev, y_on), lev)
    lev = np.where(cap <= lo, 0.0, lev)
    lev = np.where(np.isfinite(lev), lev, 0.0)
    yb = lev.max(axis=1) * (1.0 + 1e-12) + 1e-300
    sb, db = at(yb)
    bb, _, tb = totals(sb, db)

    done = ba >= total - tol  # everything at its lower bound already
    # rows where even every useful arm at its cap is short: the rest goes to arms of zero value
    short = ~done & (bb < total - tol)
    if short.any():
        s_inf = np.where(short[:, None], cap, sb)
        _, _, t_inf = totals(s_inf, np.zeros_like(s_inf))
        b_inf = np.where(short, s_inf[:, singles].sum(axis=1) + t_inf.sum(axis=1), bb)
        ya, sa, ta, ba = _take(short, yb, sb, tb, bb, ya, sa, ta, ba)
        sb, tb, bb = s_inf, np.where(short[:, None], t_inf, tb), b_inf
        done = done | short
    if floor_level is not None:
        yf = np.full(rows, floor_level)
        sf, df = at(yf)
        bf, _, tf = totals(sf, df)
        stop = ~done & (bf <= total + tol)
        if stop.any():
            # the target binds: spend where the marginal return reaches it
            ya, sa, ta, ba = _take(stop, yf, sf, tf, bf, ya, sa, ta, ba)
            yb, sb, tb, bb = _take(stop, yf, sf, tf, bf, yb, sb, tb, bb)
            done = done | stop
        lower = ~done & (yf < yb)
        yb, sb, tb, bb = _take(lower, yf, sf, tf, bf, yb, sb, tb, bb)

    # --- jumps (arms switching on at their minimum): find the jump-free stretch with the root ---
    active = ~done
    if m > 0 and active.any():
        pts = np.sort(np.where(env & np.isfinite(y_on), y_on, np.inf), axis=1)
        lo_i = np.full(rows, -1)
        hi_i = np.full(rows, n)
        rix = np.arange(rows)
        for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
            todo = active & (hi_i - lo_i > 1)
            if not todo.any():
                break
            mid = (lo_i + hi_i) // 2
            ym = pts[rix, np.clip(mid, 0, n - 1)]
            inside = todo & (ym > ya) & (ym < yb)
            hi_i = np.where(todo & ~inside & (ym >= yb), mid, hi_i)
            lo_i = np.where(todo & ~inside & (ym <= ya), mid, lo_i)
            if not inside.any():
                continue
            s_m, d_m = at(np.where(inside, ym, ya))
            b_m, _, t_m = totals(s_m, d_m)
            low = inside & (b_m <= total)
            high = inside & ~low
            lo_i = np.where(low, mid, lo_i)
            hi_i = np.where(high, mid, hi_i)
            ya, sa, ta, ba = _take(low, ym, s_m, t_m, b_m, ya, sa, ta, ba)
            yb, sb, tb, bb = _take(high, ym, s_m, t_m, b_m, yb, sb, tb, bb)
        # just below the upper end: if still short, the root is the jump itself
        at_jump = active & (hi_i < n)
        if at_jump.any():
            y_left = np.where(at_jump, yb * (1.0 - 1e-13), ya)
            s_l, d_l = at(y_left)
            b_l, _, t_l = totals(s_l, d_l)
            short_l = at_jump & (b_l <= total)
            ya, sa, ta, ba = _take(short_l, y_left, s_l, t_l, b_l, ya, sa, ta, ba)
            over_l = at_jump & ~short_l
            yb, sb, tb, bb = _take(over_l, y_left, s_l, t_l, b_l, yb, sb, tb, bb)
            active = active & ~short_l

    # --- bracketed Newton on the level ------------------------------------------------------------
    if active.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            w0 = np.where(bb > ba, (total - ba) / (bb - ba), 0.5)
        y = np.where(active, ya + np.clip(w0, 0.0, 1.0) * (yb - ya), ya)
        last_res = np.full(rows, np.inf)
        for _ in range(_MAX_ITER):
            s, d = at(y)
            big, d_big, t_g = totals(s, d)
            low = active & (big <= total)
            high = active & ~low
            ya = np.where(low, y, ya)
            sa = np.where(low[:, None], s, sa)
            ta = np.where(low[:, None], t_g, ta)
            ba = np.where(low, big, ba)
            yb = np.where(high, y, yb)
            sb = np.where(high[:, None], s, sb)
            tb = np.where(high[:, None], t_g, tb)
            bb = np.where(high, big, bb)
            res = np.abs(big - total)
            active = active & (res > tol) & (yb - ya > 1e-12 * np.maximum(yb, 1e-300))
            if not active.any():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = y + (total - big) / d_big
            ok = (d_big > 0) & (newton > ya) & (newton < yb) & (res < 0.5 * last_res)
            last_res = np.where(ok, res, np.inf)
            y = np.where(ok, newton, 0.5 * (ya + yb))

    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(bb > ba, (total - ba) / (bb - ba), 0.0)
    w = np.clip(w, 0.0, 1.0)[:, None]
    return sa + w * (sb - sa), ta + w * (tb - ta)


def _take(
    mask: NDArray[np.bool_],
    y: FloatArray,
    s: FloatArray,
    t: FloatArray,
    b: FloatArray,
    y0: FloatArray,
    s0: FloatArray,
    t0: FloatArray,
    b0: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Replace one end of the bracket (level, spend, platform totals, total) where ``mask``."""
    return (
        np.where(mask, y, y0),
        np.where(mask[:, None], s, s0),
        np.where(mask[:, None], t, t0),
        np.where(mask, b, b0),
    )


def _feasible(
    lo: FloatArray, hi: FloatArray, total: float, groups: Sequence[Group], *, at_most: bool = False
) -> bool:
    """Whether boxes and platform bounds can add up to ``total`` (``at_most``: to at most it)."""
    singles = _singles(lo.shape[0], groups)
    least = float(lo[singles].sum())
    most = float(hi[singles].sum())
    for g in groups:
        g_lo, g_hi = float(lo[g.arms].sum()), float(hi[g.arms].sum())
        if g.lo > g_hi * (1 + 1e-9) + 1e-9 or g.hi < g_lo * (1 - 1e-9) - 1e-9:
            return False
        least += max(g.lo, g_lo)
        most += min(g.hi, g_hi)
    tol = 1e-9 * max(total, 1.0)
    return least <= total + tol and (at_most or most >= total - tol)


def _decide(
    lo: FloatArray,
    hi: FloatArray,
    total: float,
    m: float,
    groups: Sequence[Group],
    want: NDArray[np.bool_],
    order: IntArray,
    *,
    at_most: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Boxes with each arm of ``order`` funded (at least ``m``) or not (0), in that order.

    Each arm takes its ``want`` unless that leaves ``total`` out of the totals reachable under the
    0-or-at-least-``m`` rule (:func:`~amplify.allocate.constraints._reachable`, exact), and then the
    other choice, which keeps it reachable. So a reachable ``total`` stays reachable to the end,
    however bad ``want`` is. ``at_most``: ``total`` is a cap (a CPA/ROAS target may spend less).
    """
    lo, hi = lo.copy(), hi.copy()
    singles = _singles(lo.shape[0], groups)
    tol = 1e-9 * max(total, 1.0)

    def reachable(l_: FloatArray, h_: FloatArray) -> bool:
        return _hits(_reachable(l_, h_, m, groups, singles, tol), total, tol, at_most)

    for j in order:
        options = []
        for funded in (bool(want[j]), not want[j]):
            l2, h2 = lo.copy(), hi.copy()
            if funded and hi[j] >= m * (1 - 1e-12):
                l2[j] = max(lo[j], min(m, hi[j]))
            elif not funded and lo[j] <= 0:
                h2[j] = 0.0
            else:
                continue
            options.append((l2, h2))
        for l2, h2 in options:
            if reachable(l2, h2):
                lo, hi = l2, h2
                break
        else:
            if options:  # total was not reachable to begin with: keep the wish
                lo, hi = options[0]
    return lo, hi


def _solve_rows(
    resp: _Response,
    lo: FloatArray,
    hi: FloatArray,
    total: FloatArray,
    m: float,
    floor_level: float | None,
    groups: Sequence[Group],
) -> FloatArray:
    """:func:`_fill`, then platform sums brought to their bounds on that platform's arms alone."""
    s, t_g = _fill(resp, lo, hi, total, m, floor_level, groups)
    for i, g in enumerate(groups):
        sg = s[:, g.arms].sum(axis=1)
        bad = np.abs(sg - t_g[:, i]) > 1e-10 * np.maximum(t_g[:, i], 1.0)
        if bad.any():
            rows = np.flatnonzero(bad)
            sub = resp.take(rows, g.arms)
            s_sub, _ = _fill(
                sub, lo[np.ix_(rows, g.arms)], hi[np.ix_(rows, g.arms)], t_g[rows, i], m, None, ()
            )
            s[np.ix_(rows, g.arms)] = s_sub
    return s


def _net(resp: _Response, s: FloatArray, floor: float | None) -> float:
    return float(resp.value(s).sum() - (floor or 0.0) * s.sum())


class _MinRule:
    """The 0-or-at-least-``m`` rule for one row: round the envelope relaxation, then local search.

    The relaxation (each curve replaced by its concave envelope: a straight line from 0 to ``m``,
    then the curve) is solved exactly; if no arm is left part-way between 0 and ``m`` it is the
    exact optimum. Otherwise candidate *funded sets* are evaluated exactly (funded arms boxed to at
    least ``m``, the others to 0): the relaxation's funded arms, plus the part-way arm with most
    spend, plus all part-way arms. From the best, moves that drop, add or swap one arm are scored to
    first order at the current multiplier; the best few are evaluated exactly and taken while they
    improve the plan, or until it is within rounding of the relaxation's value (an upper bound).
    """

    _n_verify = 4  # moves evaluated exactly per round
    _n_scan = 64  # swaps scored per round (the feasible best are evaluated)

    def __init__(
        self,
        resp: _Response,
        lo: FloatArray,
        hi: FloatArray,
        total: float,
        m: float,
        floor: float | None,
        groups: Sequence[Group],
    ) -> None:
        self.resp = resp
        self.lo0, self.hi0 = lo, hi
        self.total = np.array([total])
        self.m = m
        self.floor = floor
        self.floor_level = None if floor is None else float(floor) ** -0.5
        self.at_most = floor is not None  # a target may stop short of the budget
        self.groups = groups
        self.tol = 1e-9 * max(m, 1.0)
        self.n = lo.shape[0]
        self.forced = lo > 0
        self.free = (lo <= 0) & (hi >= m)
        self.seen: dict[bytes, tuple[float, FloatArray] | None] = {}

    def _boxes(self, funded: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        funded = (funded & self.free) | self.forced
        lo = np.where(funded, np.maximum(self.lo0, self.m), 0.0)
        return lo, np.where(funded, self.hi0, 0.0)

    def feasible(self, funded: NDArray[np.bool_]) -> bool:
        lo, hi = self._boxes(funded)
        return _feasible(lo, hi, float(self.total[0]), self.groups, at_most=self.at_most)

    def evaluate(self, funded: NDArray[np.bool_]) -> tuple[float, FloatArray] | None:
        """Exact best plan funding exactly ``funded`` (plus forced arms); None if infeasible."""
        funded = (funded & self.free) | self.forced
        key = funded.tobytes()
        if key in self.seen:
            return self.seen[key]
        lo, hi = self._boxes(funded)
        out: tuple[float, FloatArray] | None = None
        if _feasible(lo, hi, float(self.total[0]), self.groups, at_most=self.at_most):
            s = _solve_rows(
                self.resp, lo[None], hi[None], self.total, 0.0, self.floor_level, self.groups
            )[0]
            out = (_net(self.resp, s[None], self.floor), s)
        self.seen[key] = out
        return out

    def _decided(self, s: FloatArray) -> NDArray[np.bool_]:
        """A feasible funded set close to ``s``, clearest choices first (see :func:`_decide`)."""
        half = 0.5 * self.m
        order = np.argsort(-np.abs(s - half), kind="stable")
        lo, _ = _decide(
            self.lo0,
            self.hi0,
            float(self.total[0]),
            self.m,
            self.groups,
            s >= half,
            order[self.free[order]],
            at_most=self.at_most,
        )
        return lo > 0

    def _envelope_value(self, s: FloatArray) -> FloatArray:
        """Value of the concave envelope: linear up to ``m`` for arms that may get 0."""
        vals = self.resp.value(s[None])[0]
        at_m = self.resp.value(np.full((1, self.n), self.m))[0]
        env = (self.lo0 <= 0) & (s < self.m)
        return np.where(env, at_m * s / self.m, vals)

    def _multipliers(
        self, s: FloatArray, marg: FloatArray, funded: NDArray[np.bool_]
    ) -> FloatArray:
        """Marginal return each arm's money competes with: its platform's when a bound binds."""
        interior = funded & (s > self.m + self.tol) & (s < self.hi0 - self.tol)

        def level(mask: NDArray[np.bool_]) -> float:
            pool = marg[mask & interior] if (mask & interior).any() else marg[mask & funded]
            return float(np.median(pool)) if pool.size else 0.0

        everyone = np.ones(self.n, dtype=bool)
        lam = np.full(self.n, level(everyone))
        tol = 1e-9 * max(float(self.total[0]), 1.0)
        for g in self.groups:
            sg = float(s[g.arms].sum())
            if sg <= g.lo + tol or sg >= g.hi - tol:
                mask = np.zeros(self.n, dtype=bool)
                mask[g.arms] = True
                lam_g = level(mask)
                lam[g.arms] = lam_g if lam_g > 0 else lam[g.arms]
        return np.maximum(lam, float(self.floor or 0.0))

    def _moves(self, s: FloatArray) -> list[tuple[int, ...]]:
        """Arms to flip (drop one, add one, or swap a pair), best first-order gain first."""
        resp, m = self.resp, self.m
        funded = s > self.tol
        level = resp.level_at(s[None])[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            marg = np.where(np.isfinite(level) & (level > 0), level**-2.0, 0.0)
        lam = self._multipliers(s, marg, funded)
        if not np.all(lam > 0):
            return []
        surplus = resp.value(s[None])[0] - lam * s
        raw, _ = resp.spend(lam[None, :] ** -0.5)
        x = np.clip(raw[0], m, np.maximum(self.hi0, m))
        gain = resp.value(x[None])[0] - lam * x
        drops = np.flatnonzero(funded & self.free)
        adds = np.flatnonzero(~funded & self.free & np.isfinite(gain))
        scored: list[tuple[float, tuple[int, ...]]] = []
        scored += [(-float(surplus[i]), (int(i),)) for i in drops]
        scored += [(float(gain[j]), (int(j),)) for j in adds]
        if drops.size and adds.size:
            score = gain[adds][None, :] - surplus[drops][:, None]
            for f in np.argsort(-score, axis=None, kind="stable")[: self._n_scan]:
                i, j = np.unravel_index(int(f), score.shape)
                scored.append((float(score[i, j]), (int(drops[i]), int(adds[j]))))
        scored.sort(key=lambda t: -t[0])
        out: list[tuple[int, ...]] = []
        for _, arms in scored:
            funded_new = funded.copy()
            funded_new[list(arms)] = ~funded_new[list(arms)]
            if self.feasible(funded_new):
                out.append(arms)
                if len(out) == self._n_verify:
                    break
        return out

    def run(self, s: FloatArray) -> FloatArray:
        part = np.flatnonzero((s > self.tol) & (s < self.m - self.tol))
        if part.size == 0:
            return s  # the envelope relaxation is integral: exact
        bound = float((self._envelope_value(s) - (self.floor or 0.0) * s).sum())
        base = s >= self.m - self.tol
        top = base.copy()
        top[part[np.argmax(s[part])]] = True
        candidates = [base, top, base | (s > self.tol)]
        best: tuple[float, FloatArray] | None = None
        for funded in candidates:
            got = self.evaluate(funded)
            if got is not None and (best is None or got[0] > best[0]):
                best = got
        if best is None:  # no rounding of the relaxation is feasible: decide arm by arm
            best = self.evaluate(self._decided(s))
        if best is None:  # pragma: no cover - the budget was reachable (compile checks it)
            return s
        for _ in range(2 * self.n):
            if best[0] >= bound - 1e-9 * max(abs(bound), 1.0):
                break
            current = best[1] > self.tol
            improved = False
            for arms in self._moves(best[1]):
                funded = current.copy()
                funded[list(arms)] = ~funded[list(arms)]
                got = self.evaluate(funded)
                if got is not None and got[0] > best[0] + 1e-12 * max(abs(best[0]), 1.0):
                    best = got
                    improved = True
            if not improved:
                break
        return best[1]


def _solve_min(
    resp: _Response,
    lo: FloatArray,
    hi: FloatArray,
    total: FloatArray,
    m: float,
    floor: float | None,
    groups: Sequence[Group],
) -> FloatArray:
    """Solve, with the 0-or-at-least-``m`` rule when ``m > 0`` (see :class:`_MinRule`)."""
    floor_level = None if floor is None else float(floor) ** -0.5
    s = _solve_rows(resp, lo, hi, total, m, floor_level, groups)
    if m <= 0:
        return s
    n = lo.shape[1]
    for r in range(s.shape[0]):
        sub = resp.take(np.array([r]), np.arange(n))
        rule = _MinRule(sub, lo[r], hi[r], float(total[r]), m, floor, groups)
        s[r] = rule.run(s[r])
    return s


# --------------------------------------------------------------------------------------------------
# step rounding
# --------------------------------------------------------------------------------------------------


def _round_step(
    resp: _Response,
    s: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    step: float,
    m: float,
    groups: Sequence[Group],
) -> FloatArray:
    """Round each row to multiples of ``step`` keeping its sum; bounds off the grid stay exact."""
    out = s.copy()
    n = s.shape[1]
    group_of = np.full(n, -1)
    for i, g in enumerate(groups):
        group_of[g.arms] = i
    for r in range(s.shape[0]):
        sr, lr, hr = s[r], lo[r], hi[r]
        total = float(sr.sum())
        tol = 1e-9 * max(step, 1.0)
        active = sr > tol
        base = np.floor(sr / step + 1e-9) * step
        floor_to = np.where(active, np.maximum(lr, m), lr)
        base = np.maximum(base, floor_to)
        base = np.where(sr >= hr - tol, hr, base)
        base = np.minimum(base, sr)  # never above the continuous plan here
        sub = resp.take(np.array([r]), np.arange(n))
        rest = total - float(base.sum())
        g_sum = np.array([base[g.arms].sum() for g in groups])
        g_lo = np.array([g.lo for g in groups])
        g_hi = np.array([g.hi for g in groups])
        eligible = active | (lr > 0)
        # first bring platforms back to their minimums, then give the rest to the best next steps;
        # each round scores one more step for every arm and hands them out best first
        for phase in (0, 1):
            for _ in range(n + 2):
                if rest <= tol:
                    break
                needy = np.zeros(n, dtype=bool)
                if phase == 0:
                    if not groups:
                        break
                    short = g_lo - g_sum > tol
                    if not short.any():
                        break
                    needy = (group_of >= 0) & short[np.maximum(group_of, 0)]
                # up to the next multiple of the step (an arm at an off-grid bound joins the grid)
                to_grid = (np.floor(base / step + 1e-9) + 1.0) * step - base
                inc = np.minimum(np.minimum(to_grid, hr - base), rest)
                ok = eligible & (inc > tol) & (needy if phase == 0 else True)
                if not ok.any():
                    break
                cur = sub.value(base[None])[0]
                nxt = sub.value((base + np.where(ok, inc, 0.0))[None])[0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    gain = np.where(ok, (nxt - cur) / inc, -np.inf)
                moved = False
                for j in np.argsort(-gain, kind="stable"):
                    if not ok[j] or rest <= tol:
                        break
                    gi = int(group_of[j])
                    amount = min(float(inc[j]), rest)
                    if gi >= 0:
                        amount = min(amount, float(g_hi[gi] - g_sum[gi]))
                        if phase == 0:
                            amount = min(amount, float(g_lo[gi] - g_sum[gi]))
                    if amount <= tol:
                        continue
                    base[j] += amount
                    rest -= amount
                    moved = True
                    if gi >= 0:
                        g_sum[gi] += amount
                if not moved:
                    break
        if rest > tol:  # nowhere to put whole steps: keep the continuous plan
            continue
        out[r] = _fewer_off_grid(sub, base, lr, hr, step, m, groups, group_of)
    return out


def _fewer_off_grid(
    resp: _Response,
    s: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    step: float,
    m: float,
    groups: Sequence[Group],
    group_of: IntArray,
) -> FloatArray:
    """Move money between off-grid arms of one row until at most one is off the grid for no reason,
    or no move keeps every bound.

    An arm is off the grid unless it is a multiple of ``step``, at a bound of its box, or at the
    minimum ``m``; one per platform at a platform bound is off the grid for a reason (the bound).
    Each move takes an off-grid arm to the grid, to a bound, to 0, or to where its platform sits at
    a bound, and gives the difference to another off-grid arm. Of the moves that keep the boxes,
    the 0-or-at-least-``m`` rule and the platform bounds and leave fewer arms off the grid for no
    reason, the one losing least value is taken. The sum never changes.
    """
    s = s.copy()
    tol = 1e-9 * max(step, 1.0)
    g_lo = np.array([g.lo for g in groups] + [-np.inf])  # the last: arms without a platform bound
    g_hi = np.array([g.hi for g in groups] + [np.inf])
    g_sum = np.array([s[g.arms].sum() for g in groups] + [0.0])
    g_tol = 1e-9 * max(float(s.sum()), 1.0)

    def off_grid(x: FloatArray) -> NDArray[np.bool_]:
        on_grid = np.abs(x - step * np.round(x / step)) <= tol
        at_bound = (np.abs(x - lo) <= tol) | (np.abs(x - hi) <= tol) | (np.abs(x - m) <= tol)
        return ~(on_grid | at_bound)

    def loose(x: FloatArray, sums: FloatArray) -> int:
        """Arms off the grid, less one per platform at a platform bound."""
        off = off_grid(x)
        binding = (np.abs(sums - g_lo) <= g_tol) | (np.abs(sums - g_hi) <= g_tol)
        excused = sum(1 for gi in np.unique(group_of[off]) if gi >= 0 and binding[gi])
        return int(off.sum()) - excused

    def allowed(j: int, v: float) -> bool:
        if abs(v) <= tol:
            return bool(lo[j] <= 0)
        return bool(max(lo[j], m) - tol <= v <= hi[j] + tol)

    for _ in range(s.shape[0]):
        count = loose(s, g_sum)
        if count <= 1:
            break
        off = np.flatnonzero(off_grid(s))
        now = float(resp.value(s[None]).sum())
        best: tuple[float, FloatArray, FloatArray] | None = None
        for i in off:
            gi = int(group_of[i])
            down = step * np.floor(s[i] / step + 1e-9)
            ends = {down, down + step, 0.0, lo[i], max(lo[i], m), hi[i]}
            ends |= {s[i] - (g_sum[gi] - g_lo[gi]), s[i] + (g_hi[gi] - g_sum[gi])}
            moves = [s[i] - e for e in sorted(ends) if np.isfinite(e) and abs(s[i] - e) > tol]
            for j in off[off != i]:
                gj = int(group_of[j])
                for d in moves:
                    if not (allowed(int(i), float(s[i] - d)) and allowed(int(j), float(s[j] + d))):
                        continue
                    sums = g_sum.copy()
                    sums[gi] -= d
                    sums[gj] += d
                    if np.any(sums < g_lo - g_tol) or np.any(sums > g_hi + g_tol):
                        continue
                    trial = s.copy()
                    trial[i] -= d
                    trial[j] += d
                    if loose(trial, sums) >= count:
                        continue
                    loss = now - float(resp.value(trial[None]).sum())
                    if best is None or loss < best[0]:
                        best = (loss, trial, sums)
        if best is None:
            break
        _, s, g_sum = best
    return s


# --------------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------------


def _weights(curves: ResponseCurves, comp: Compiled, objective: Weights | None) -> FloatArray:
    if objective is None:
        objective = revenue() if comp.revenue else conversions()
    elif comp.floor is not None and not comp.revenue and objective.__name__ == "revenue":
        raise ValueError(
            "a CPA target is a floor on marginal conversions; use the conversions objective "
            "(or a ROAS target)"
        )
    return np.asarray(objective(curves), dtype=float)


def _finish(resp: _Response, s: FloatArray, comp: Compiled) -> FloatArray:
    lo = np.broadcast_to(comp.lo, s.shape)
    hi = np.broadcast_to(comp.hi, s.shape)
    if comp.step > 0:
        s = _round_step(resp, s, lo, hi, comp.step, comp.min_per_arm, comp.groups)
    return np.maximum(s, 0.0)


def _mean_response(b: FloatArray, k: FloatArray) -> _Response:
    """The posterior-mean curve of draws ``b``, ``k`` (a single draw is its own mean)."""
    return _Mixture(b, k) if b.shape[0] > 1 else _MM(b, k)


def solve_compiled(
    curves: ResponseCurves,
    comp: Compiled,
    *,
    draws: ArrayLike | None = None,
    objective: Weights | None = None,
) -> FloatArray:
    """Best split for compiled constraints: per draw in ``draws`` (rows), or for the posterior-mean
    curve (one row) when ``draws`` is None."""
    w = _weights(curves, comp, objective)
    b = curves.beta * w
    resp: _Response
    if draws is None:
        resp = _mean_response(b, curves.k)
    else:
        idx = np.atleast_1d(np.asarray(draws, dtype=int))
        if idx.size and (idx.min() < 0 or idx.max() >= curves.n_draws):
            raise IndexError(
                f"draws must be in [0, {curves.n_draws}), got {idx.min()}..{idx.max()}"
            )
        resp = _MM(b[idx], curves.k[idx])
    rows = resp.rows
    n = curves.n_arms
    lo = np.broadcast_to(comp.lo, (rows, n)).copy()
    hi = np.broadcast_to(comp.hi, (rows, n)).copy()
    total = np.full(rows, comp.budget)
    if n == 0:
        return np.zeros((rows, 0))
    s = _solve_min(resp, lo, hi, total, comp.min_per_arm, comp.floor, comp.groups)
    return _finish(resp, s, comp)


def solve_sticky(
    curves: ResponseCurves,
    comp: Compiled,
    previous: ArrayLike,
    cost: float,
    *,
    objective: Weights | None = None,
) -> FloatArray:
    """Best split for the posterior-mean curve net of a switching cost, ``(n_arms,)``.

    Maximises ``sum_j f_j(s_j) - cost * lam * sum_j |s_j - previous_j|``, where ``lam`` is the
    marginal return of the plain optimum (:func:`solve_compiled`): money moves only where the
    marginal returns differ by more than ``2 * cost`` of that return, so estimates that wobble
    within the band leave the plan alone. ``cost = 0`` is the plain optimum. Continuous (the
    minimum-spend and step rules are left to :func:`project`).
    """
    prev = np.asarray(previous, dtype=float)
    if cost < 0:
        raise ValueError(f"solve_sticky: cost must be >= 0, got {cost}")
    if prev.shape != (curves.n_arms,):
        raise ValueError(f"solve_sticky: previous has shape {prev.shape}, need ({curves.n_arms},)")
    cont = replace(comp, step=0.0, min_per_arm=0.0)
    plain = solve_compiled(curves, cont, objective=objective)[0]
    if cost == 0 or curves.n_arms == 0:
        return plain
    inner = _mean_response(curves.beta * _weights(curves, comp, objective), curves.k)
    level = inner.level_at(plain[None, :])[0]
    funded = (plain > comp.lo + 1e-9 * max(comp.budget, 1.0)) & (plain < comp.hi) & (level > 0)
    if not funded.any():
        return plain
    lam = float(np.median(1.0 / level[funded] ** 2))
    resp = _Sticky(inner, prev[None, :], cost * lam)
    lo = comp.lo[None, :].copy()
    hi = comp.hi[None, :].copy()
    total = float(plain.sum())
    # a cost so large that the budget cannot be spent at a positive marginal return: no band
    reach, _ = resp.spend(resp.level_at(np.full_like(lo, np.inf)))
    if float(np.clip(reach, lo, hi).sum()) < total * (1.0 - 1e-9):
        return plain
    s = _solve_min(resp, lo, hi, np.array([total]), 0.0, comp.floor, comp.groups)[0]
    return np.maximum(s, 0.0)


def solve(
    curves: ResponseCurves,
    c: Constraints,
    *,
    draw: int | None = None,
    objective: Weights | None = None,
) -> FloatArray:
    """Exact best split of ``c.budget`` for one posterior draw, or for the posterior-mean curve.

    Parameters
    ----------
    curves
        Posterior draws of the response curves.
    c
        Budget and constraints.
    draw
        Index of the posterior draw to optimise for (Thompson sampling); None optimises the
        posterior mean of the objective (greedy).
    objective
        :mod:`.objectives` weights; default conversions (revenue under a ROAS target).

    Returns
    -------
    numpy.ndarray
        Spend per arm, shape ``(n_arms,)``. Sums to the budget, unless a CPA/ROAS target stops it
        earlier.
    """
    comp = compile_constraints(curves, c)
    return solve_compiled(
        curves, comp, draws=None if draw is None else [draw], objective=objective
    )[0]


def solve_draws(
    curves: ResponseCurves,
    c: Constraints,
    draws: ArrayLike,
    *,
    objective: Weights | None = None,
) -> FloatArray:
    """Exact best split for each posterior draw in ``draws`` at once: ``(len(draws), n_arms)``."""
    comp = compile_constraints(curves, c)
    return solve_compiled(curves, comp, draws=draws, objective=objective)


def project(x: ArrayLike, comp: Compiled, *, total: float | None = None) -> FloatArray:
    """The feasible plan closest to ``x`` (Euclidean), then the 0-or-minimum and step rules.

    Used to make averaged or smoothed plans feasible again. ``total`` defaults to the budget.
    """
    xv = np.atleast_2d(np.asarray(x, dtype=float))
    rows, n = xv.shape
    lo = np.broadcast_to(comp.lo, (rows, n)).copy()
    hi = np.broadcast_to(comp.hi, (rows, n)).copy()
    tot = np.full(rows, comp.budget if total is None else float(total))
    shift = (np.max(xv - lo, axis=1) + 1.0)[:, None]
    resp = _Linear(xv, shift)
    s = _solve_rows(resp, lo, hi, tot, 0.0, None, comp.groups)
    m = comp.min_per_arm
    if m > 0:
        tol = 1e-9 * max(m, 1.0)
        for _ in range(n + 1):
            part = (s > tol) & (s < m - tol)
            if not part.any():
                break
            for r in np.flatnonzero(part.any(axis=1)):
                arms = np.flatnonzero(part[r])
                order = arms[np.argsort(-np.abs(s[r, arms] - 0.5 * m), kind="stable")]
                lo[r], hi[r] = _decide(
                    lo[r],
                    hi[r],
                    float(tot[r]),
                    m,
                    comp.groups,
                    s[r] >= 0.5 * m,
                    order,
                    at_most=comp.floor is not None,
                )
            s = _solve_rows(resp, lo, hi, tot, 0.0, None, comp.groups)
    if comp.step > 0:
        s = _round_step(resp, s, lo, hi, comp.step, m, comp.groups)
    return np.maximum(s, 0.0)


def solve_scipy(
    curves: ResponseCurves,
    c: Constraints,
    *,
    draw: int | None = None,
    objective: Weights | None = None,
    risk: Aggregator | None = None,
    x0: ArrayLike | None = None,
) -> FloatArray:
    """Generic fallback: SLSQP on the same constraints (continuous: no 0-or-minimum rule, no step
    rounding).

    Use it for objectives water-filling cannot do, such as a risk-averse aggregate over draws
    (``risk=objectives.value_at_risk(0.1)``). With the default ``risk`` (the posterior mean) it
    agrees with :func:`solve`.
    """
    from scipy.optimize import minimize

    comp = compile_constraints(curves, c)
    w = _weights(curves, comp, objective)
    b = curves.beta * w
    k = curves.k
    if draw is not None:
        b, k = b[[draw]], k[[draw]]
    agg = risk or expected()
    n = curves.n_arms
    budget = comp.budget
    scale = max(budget, 1.0)
    floor = comp.floor or 0.0

    def fun(z: FloatArray) -> tuple[float, FloatArray]:
        s = np.maximum(z, 0.0) * scale
        u = 1.0 + s / k
        per_draw = (b * s / u).sum(axis=1) - floor * s.sum()
        val, dw = agg(per_draw)
        grad = dw @ (b / (u * u)) - floor
        return -val, -grad * scale

    cons: list[dict[str, object]] = []
    if comp.floor is None:
        cons.append(
            {
                "type": "eq",
                "fun": lambda z: np.array([z.sum() * scale - budget]) / scale,
                "jac": lambda z: np.ones((1, n)),
            }
        )
    else:
        cons.append(
            {
                "type": "ineq",
                "fun": lambda z: np.array([budget - z.sum() * scale]) / scale,
                "jac": lambda z: -np.ones((1, n)),
            }
        )
    for g in comp.groups:
        row = np.zeros(n)
        row[g.arms] = 1.0
        cons.append(
            {
                "type": "ineq",
                "fun": lambda z, r=row, g=g: np.array([r @ z * scale - g.lo]) / scale,
                "jac": lambda z, r=row: r[None, :],
            }
        )
        if np.isfinite(g.hi):
            cons.append(
                {
                    "type": "ineq",
                    "fun": lambda z, r=row, g=g: np.array([g.hi - r @ z * scale]) / scale,
                    "jac": lambda z, r=row: -r[None, :],
                }
            )
    bounds = [
        (lo / scale, None if not np.isfinite(hi) else hi / scale)
        for lo, hi in zip(comp.lo, comp.hi, strict=True)
    ]
    start = (
        np.asarray(x0, dtype=float) / scale
        if x0 is not None
        else project(np.full(n, budget / max(n, 1)), comp, total=budget)[0] / scale
    )
    res = minimize(
        fun,
        start,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        options={"maxiter": 500, "ftol": 1e-12},
    )
    s = np.maximum(np.asarray(res.x, dtype=float) * scale, 0.0)
    if comp.floor is None:
        s = project(s, comp.__class__(**{**comp.__dict__, "step": 0.0, "min_per_arm": 0.0}))[0]
    return s
