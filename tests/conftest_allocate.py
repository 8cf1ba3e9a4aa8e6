"""Helpers for the allocator tests (imported explicitly): references the solver must beat."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from amplify.allocate import ConstraintError, Constraints, PlatformBounds, compile_constraints
from amplify.allocate.solve import _feasible, solve_compiled
from amplify.curves import ResponseCurves

FloatArray = NDArray[np.float64]

#: Fast, reproducible property tests (as many examples as the loaded profile: 50 by default, more
#: under ``HYPOTHESIS_PROFILE=thorough``).
PROPS = settings(
    max_examples=max(50, settings.default.max_examples),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def value(curves: ResponseCurves, spend: FloatArray, draw: int | None = None) -> float:
    """Expected conversions of ``spend``: for one draw, or the posterior mean."""
    conv = curves.conversions(spend).sum(axis=1)
    return float(conv[draw] if draw is not None else conv.mean())


def random_curves(
    rng: np.random.Generator, n_arms: int, n_draws: int, *, posts: bool = False
) -> ResponseCurves:
    """Random curves with spread-out parameters (several orders of magnitude of beta and k)."""
    plats = ("facebook", "instagram", "tiktok")
    platform = tuple(plats[j % 3] for j in range(n_arms))
    arms = tuple(f"{p}:p{j}" for j, p in enumerate(platform)) if posts else platform
    base_b = np.exp(rng.uniform(np.log(0.005), np.log(0.2), n_arms))
    base_k = np.exp(rng.uniform(np.log(50), np.log(5000), n_arms))
    b = base_b * np.exp(0.3 * rng.standard_normal((n_draws, n_arms)))
    k = base_k * np.exp(0.3 * rng.standard_normal((n_draws, n_arms)))
    return ResponseCurves(arms=arms, beta=b, k=k, platform=platform, max_observed_spend=base_k * 2)


def grid_best(
    curves: ResponseCurves,
    budget: float,
    lo: FloatArray,
    hi: FloatArray,
    n_grid: int = 400,
    draw: int | None = None,
) -> float:
    """Best objective over a grid of splits of ``budget`` (2 or 3 arms) within per-arm boxes."""
    n = curves.n_arms
    h = np.minimum(hi, budget)
    best = -np.inf
    if n == 2:
        s0 = np.linspace(lo[0], h[0], n_grid + 1)
        s = np.stack([s0, budget - s0], axis=1)
    elif n == 3:
        g = np.linspace(0.0, 1.0, n_grid // 4 + 1)
        a, b = np.meshgrid(g, g, indexing="ij")
        s0 = lo[0] + a.ravel() * (h[0] - lo[0])
        s1 = lo[1] + b.ravel() * (h[1] - lo[1])
        s = np.stack([s0, s1, budget - s0 - s1], axis=1)
    else:  # pragma: no cover
        raise ValueError("grid_best supports 2 or 3 arms")
    ok = np.all((s >= lo - 1e-9) & (s <= hi + 1e-9), axis=1)
    s = s[ok]
    b = curves.beta if draw is None else curves.beta[[draw]]
    k = curves.k if draw is None else curves.k[[draw]]
    conv = (b[None] * s[:, None, :] / (1.0 + s[:, None, :] / k[None])).sum(axis=2).mean(axis=1)
    return float(conv.max()) if conv.size else best


def best_subset_value(curves: ResponseCurves, c: Constraints) -> float:
    """Exact optimum under the 0-or-at-least-``min_per_arm`` rule: enumerate funded subsets."""
    comp = compile_constraints(curves, c)
    n = curves.n_arms
    m = c.min_per_arm
    best = -np.inf
    base = c.model_copy(update={"min_per_arm": 0.0})
    for mask in itertools.product([False, True], repeat=n):
        on = np.array(mask)
        lo = np.where(on, np.maximum(comp.lo, m), 0.0)
        hi = np.where(on, comp.hi, 0.0)
        if np.any(lo > hi) or not _feasible(lo, hi, c.budget, comp.groups):
            continue
        sub = compile_constraints(curves, base)
        sub = type(sub)(**{**sub.__dict__, "lo": lo, "hi": hi})
        s = solve_compiled(curves, sub)[0]
        best = max(best, value(curves, s))
    return best


def sort_by_roi_and_fill(curves: ResponseCurves, budget: float) -> FloatArray:
    """The naive rule the issue forbids: rank by first-unit ROI, fill each up to saturation k."""
    b = curves.beta.mean(axis=0)
    k = curves.k.mean(axis=0)
    s = np.zeros(curves.n_arms)
    rest = budget
    for j in np.argsort(-b):
        take = min(rest, k[j])
        s[j] = take
        rest -= take
    s[int(np.argmax(b))] += rest
    return s


@st.composite
def problems(
    draw: st.DrawFn, *, posts: bool = False, max_arms: int = 5
) -> tuple[ResponseCurves, Constraints]:
    """A random set of curves with random, feasible constraints."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_arms = draw(st.integers(2, min(max_arms, 3))) if not posts else draw(st.integers(4, 9))
    n_draws = draw(st.sampled_from([1, 5, 40]))
    curves = random_curves(rng, n_arms, n_draws, posts=posts)
    budget = float(draw(st.floats(10.0, 20000.0)))
    plats = sorted(set(curves.platform))
    bounds: dict[str, PlatformBounds] = {}
    room = budget
    for p in plats:
        kind = draw(st.sampled_from(["none", "none", "min", "max", "lock", "minmax"]))
        frac = draw(st.floats(0.0, 0.6))
        if kind == "min" and frac * budget <= room:
            bounds[p] = PlatformBounds(min=frac * budget)
            room -= frac * budget
        elif kind == "lock" and frac * budget <= room:
            bounds[p] = PlatformBounds(lock=frac * budget)
            room -= frac * budget
        elif kind == "max":
            bounds[p] = PlatformBounds(max=frac * budget)
        elif kind == "minmax" and 0.5 * frac * budget <= room:
            bounds[p] = PlatformBounds(min=0.5 * frac * budget, max=frac * budget + 1.0)
            room -= 0.5 * frac * budget
    unbounded = [
        p for p in plats if p not in bounds or (bounds[p].max is None and bounds[p].lock is None)
    ]
    if not unbounded:  # keep the budget placeable
        bounds.pop(plats[0])
    extras: dict[str, object] = {}
    if draw(st.booleans()):
        extras["max_change"] = draw(st.floats(0.0, 0.5))
        prev = rng.dirichlet(np.ones(n_arms)) * budget * draw(st.floats(0.5, 1.5))
        extras["previous"] = dict(zip(curves.arms, map(float, prev), strict=True))
    if draw(st.booleans()):
        extras["step"] = float(draw(st.sampled_from([1.0, 5.0, 25.0])))
    if posts and draw(st.booleans()):
        extras["min_per_arm"] = float(draw(st.floats(0.0, 0.2))) * budget
    try:
        c = Constraints(budget=budget, bounds=bounds, **extras)
    except ConstraintError:  # a lock below the minimum per arm: drop the minimum
        extras.pop("min_per_arm")
        c = Constraints(budget=budget, bounds=bounds, **extras)
    return curves, c
