"""The exact solver: optimality against brute force and scipy, and every constraint it handles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplify.allocate import (
    Constraints,
    PlatformBounds,
    compile_constraints,
    objectives,
    solve,
    solve_draws,
    solve_scipy,
    solve_sticky,
)
from amplify.allocate.solve import _fill, _Mixture, solve_compiled
from amplify.curves import ResponseCurves
from amplify.testing import synthetic_curves
from conftest_allocate import (
    PROPS,
    best_subset_value,
    grid_best,
    random_curves,
    sort_by_roi_and_fill,
    value,
)


def _interior_marginals(curves: ResponseCurves, s: np.ndarray, draw: int | None) -> np.ndarray:
    marg = curves.marginal(s)
    return marg[draw] if draw is not None else marg.mean(axis=0)


@pytest.mark.parametrize("draw", [0, 7, None])
def test_kkt_equal_marginals_and_exact_sum(draw: int | None) -> None:
    curves = synthetic_curves(3, 300, seed=4)
    s = solve(curves, Constraints(budget=3000.0), draw=draw)
    assert s.sum() == pytest.approx(3000.0, rel=1e-12)
    assert np.all(s > 0)
    m = _interior_marginals(curves, s, draw)
    assert np.ptp(m) / m.mean() < 1e-9  # one shared multiplier: the optimum of a concave problem


@PROPS
@given(seed=st.integers(0, 10_000), n_arms=st.sampled_from([2, 3]), draw_one=st.booleans())
def test_solve_matches_brute_force_grid(seed: int, n_arms: int, draw_one: bool) -> None:
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, n_arms, 1 if draw_one else 30)
    budget = float(rng.uniform(50, 8000))
    c = Constraints(budget=budget)
    s = solve(curves, c)
    lo, hi = np.zeros(n_arms), np.full(n_arms, np.inf)
    grid = grid_best(curves, budget, lo, hi)
    got = value(curves, s)
    assert got >= grid - 1e-9 * abs(grid)  # never beaten by any grid point
    assert got <= grid * (1 + 2e-3)  # and the grid gets close (sanity of the reference)


def _facebook_capped_tiktok_floored(budget: float, fb_max: float, tt_min: float) -> Constraints:
    """Platform bounds on the sum of posts: Facebook at most, TikTok at least a share of it."""
    return Constraints(
        budget=budget,
        bounds={
            "facebook": PlatformBounds(max=fb_max * budget),
            "tiktok": PlatformBounds(min=tt_min * budget),
        },
    )


@settings(PROPS, max_examples=25)
@given(seed=st.integers(0, 10_000))
def test_solve_matches_scipy_with_bounds_on_posts(seed: int) -> None:
    """Platform bounds on the sum of posts: water-filling with a level per binding bound = SLSQP."""
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, 7, 5, posts=True)
    budget = float(rng.uniform(500, 10000))
    c = _facebook_capped_tiktok_floored(budget, 0.2, 0.3)
    s = solve(curves, c)
    ref = solve_scipy(curves, c, x0=np.full(7, budget / 7))
    assert value(curves, s) >= value(curves, ref) - 1e-7 * value(curves, ref)
    plat = np.asarray(curves.platform)
    assert s[plat == "facebook"].sum() <= 0.2 * budget * (1 + 1e-9)
    assert s[plat == "tiktok"].sum() >= 0.3 * budget * (1 - 1e-9)
    assert s.sum() == pytest.approx(budget, rel=1e-10)


class _NestedNewtonMixture(_Mixture):
    """The posterior-mean curve solved the general way (per-arm Newton at each level)."""

    def fill(self, lo: np.ndarray, hi: np.ndarray, total: float) -> None:
        return None


@PROPS
@given(
    seed=st.integers(0, 10_000),
    n_arms=st.sampled_from([2, 3, 20, 120]),
    n_draws=st.sampled_from([2, 16, 64]),
    boxed=st.booleans(),
)
def test_posterior_mean_newton_on_the_kkt_system_matches_the_nested_solve(
    seed: int, n_arms: int, n_draws: int, boxed: bool
) -> None:
    """The posterior-mean solve's fast path (Newton on spend and level together, a few passes over
    the draws) lands on the optimum of the general nested solve, inside every box."""
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, n_arms, n_draws, posts=True)
    budget = float(rng.uniform(50, 20_000))
    c = Constraints(budget=budget)
    if boxed:
        prev = rng.dirichlet(np.ones(n_arms)) * budget
        c = Constraints(
            budget=budget, previous=dict(zip(curves.arms, prev, strict=True)), max_change=0.05
        )
    comp = compile_constraints(curves, c)
    b, k = curves.beta, curves.k
    lo, hi = comp.lo[None, :].copy(), comp.hi[None, :].copy()
    total = np.array([budget])
    fast = _Mixture(b, k).fill(lo[0], hi[0], budget)
    assert fast is not None  # live arms and feasible boxes: the fast path applies
    nested, _ = _fill(_NestedNewtonMixture(b, k), lo, hi, total, 0.0, None, ())
    assert fast.sum() == pytest.approx(budget, rel=1e-10)
    assert np.all(fast >= comp.lo - 1e-9 * budget)
    assert np.all(fast <= comp.hi + 1e-9 * budget)
    np.testing.assert_allclose(fast, nested[0], rtol=0, atol=1e-7 * budget)
    assert value(curves, fast) >= value(curves, nested[0]) * (1 - 1e-12)
    np.testing.assert_allclose(solve_compiled(curves, comp)[0], fast, rtol=0, atol=1e-9 * budget)


def test_scipy_fallback_agrees_with_water_filling() -> None:
    curves = synthetic_curves(3, 200, seed=2)
    c = Constraints(budget=2500.0, bounds={"instagram": PlatformBounds(max=600.0)})
    exact = solve(curves, c)
    sc = solve_scipy(curves, c)
    np.testing.assert_allclose(sc, exact, rtol=2e-4, atol=0.05)


def test_scipy_fallback_risk_averse_objective_differs_and_is_feasible() -> None:
    curves = synthetic_curves(3, 400, seed=5, spread=0.5)
    c = Constraints(budget=3000.0)
    mean_plan = solve(curves, c)
    cautious = solve_scipy(curves, c, risk=objectives.value_at_risk(0.1))
    assert cautious.sum() == pytest.approx(3000.0, rel=1e-9)
    tail = objectives.value_at_risk(0.1)
    totals = lambda s: curves.conversions(s).sum(axis=1)  # noqa: E731
    assert tail(totals(cautious))[0] >= tail(totals(mean_plan))[0] - 1e-6


def test_solve_draws_equals_one_at_a_time() -> None:
    curves = synthetic_curves(6, 50, seed=3, posts=True)
    c = Constraints(budget=4000.0, bounds={"facebook": PlatformBounds(max=900.0)})
    batch = solve_draws(curves, c, [3, 11, 42])
    for row, d in zip(batch, [3, 11, 42], strict=True):
        np.testing.assert_allclose(row, solve(curves, c, draw=d), rtol=1e-9, atol=1e-7)


def test_beats_sort_by_roi_and_fill() -> None:
    curves = synthetic_curves(3, 200, seed=8)
    for budget in [500.0, 2000.0, 6000.0]:
        s = solve(curves, Constraints(budget=budget))
        naive = sort_by_roi_and_fill(curves, budget)
        assert value(curves, s) > value(curves, naive) + 1e-6


@PROPS
@given(seed=st.integers(0, 10_000))
def test_water_filling_never_worse_than_sorting_by_roi(seed: int) -> None:
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, 3, 10)
    budget = float(rng.uniform(100, 10000))
    s = solve(curves, Constraints(budget=budget))
    assert value(curves, s) >= value(curves, sort_by_roi_and_fill(curves, budget)) - 1e-9


def test_cpa_target_stops_where_marginal_cpa_reaches_it() -> None:
    curves = synthetic_curves(3, 1, seed=1, spread=0.0)
    target = 60.0
    s = solve(curves, Constraints(budget=1e6, target_cpa=target), draw=0)
    assert s.sum() < 1e6
    marg = curves.marginal(s)[0]
    np.testing.assert_allclose(1.0 / marg[s > 0], target, rtol=1e-8)
    # a small budget is spent in full: the marginal CPA stays under the target
    small = solve(curves, Constraints(budget=100.0, target_cpa=target), draw=0)
    assert small.sum() == pytest.approx(100.0, rel=1e-12)
    assert np.all(1.0 / curves.marginal(small)[0] <= target)


def test_roas_target_needs_value_and_uses_revenue() -> None:
    curves = synthetic_curves(3, 100, seed=1, value=40.0)
    s = solve(curves, Constraints(budget=1e6, target_roas=1.5))
    marg_rev = (curves.marginal(s) * curves.value).mean(axis=0)
    np.testing.assert_allclose(marg_rev[s > 0], 1.5, rtol=1e-7)
    plain = synthetic_curves(3, 100, seed=1)
    with pytest.raises(ValueError, match="value"):
        solve(plain, Constraints(budget=1000.0, target_roas=1.5))


def test_lock_and_max_are_exact() -> None:
    curves = synthetic_curves(3, 100, seed=6)
    c = Constraints(
        budget=3000.0,
        bounds={"FB": PlatformBounds(lock=1234.5), "tiktok": PlatformBounds(max=100.0)},
    )
    s = solve(curves, c)
    assert s[0] == pytest.approx(1234.5)
    assert s[2] <= 100.0 + 1e-9
    assert s.sum() == pytest.approx(3000.0)


def test_step_rounding_keeps_the_sum_and_the_grid() -> None:
    curves = synthetic_curves(8, 40, seed=2, posts=True)
    c = Constraints(budget=5000.0, step=50.0)
    s = solve(curves, c)
    assert s.sum() == pytest.approx(5000.0, abs=1e-6)
    np.testing.assert_allclose(s / 50.0, np.round(s / 50.0), atol=1e-9)
    # rounding costs little against the continuous optimum
    cont = solve(curves, Constraints(budget=5000.0))
    assert value(curves, s) >= value(curves, cont) * (1 - 5e-3)
    # a budget that is not a multiple of the step: one arm carries the remainder
    odd = solve(curves, Constraints(budget=5030.0, step=50.0))
    off = np.abs(odd / 50.0 - np.round(odd / 50.0)) > 1e-9
    assert off.sum() <= 1
    assert odd.sum() == pytest.approx(5030.0, abs=1e-6)


@PROPS
@given(seed=st.integers(0, 10_000), frac=st.floats(0.05, 0.4))
def test_min_per_arm_heuristic_against_brute_force_subsets(seed: int, frac: float) -> None:
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, 6, 1, posts=True)
    budget = float(rng.uniform(500, 6000))
    c = Constraints(budget=budget, min_per_arm=frac * budget)
    s = solve(curves, c)
    funded = s > 1e-9
    assert np.all(s[funded] >= c.min_per_arm * (1 - 1e-9))
    assert s.sum() == pytest.approx(budget, rel=1e-9)
    best = best_subset_value(curves, c)
    assert value(curves, s) >= best * (1 - 1e-3)


def test_min_per_arm_on_the_posterior_mean_matches_brute_force() -> None:
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        curves = random_curves(rng, 6, 20, posts=True)
        c = Constraints(budget=3000.0, min_per_arm=700.0)
        s = solve(curves, c)
        assert value(curves, s) >= best_subset_value(curves, c) * (1 - 1e-6)


def test_min_per_arm_drops_weak_posts() -> None:
    curves = synthetic_curves(12, 30, seed=9, posts=True)
    c = Constraints(budget=3000.0, min_per_arm=400.0)
    s = solve(curves, c)
    funded = s > 0
    assert 1 <= funded.sum() <= 7  # at most 3000 / 400 posts
    assert np.all(s[funded] >= 400.0 - 1e-9)


def test_max_change_box_and_widening() -> None:
    curves = synthetic_curves(3, 100, seed=1)
    prev = {"facebook": 1000.0, "instagram": 1000.0, "tiktok": 1000.0}
    c = Constraints(budget=3000.0, previous=prev, max_change=0.05)
    s = solve(curves, c)
    assert np.all(np.abs(s - 1000.0) <= 150.0 + 1e-9)
    # a budget change larger than the boxes allow: the boxes widen just enough, and the plan says so
    c2 = Constraints(budget=4000.0, previous=prev, max_change=0.05)
    comp = compile_constraints(curves, c2)
    assert comp.notes
    assert "max_change" in comp.notes[0]
    s2 = solve(curves, c2)
    assert s2.sum() == pytest.approx(4000.0)


def test_zero_budget_and_dead_arms() -> None:
    curves = synthetic_curves(3, 10, seed=1)
    assert np.all(solve(curves, Constraints(budget=0.0)) == 0.0)
    beta = curves.beta.copy()
    beta[:, 1] = 0.0
    dead = ResponseCurves(arms=curves.arms, beta=beta, k=curves.k, platform=curves.platform)
    s = solve(dead, Constraints(budget=2000.0))
    assert s[1] == pytest.approx(0.0, abs=1e-9)
    assert s.sum() == pytest.approx(2000.0)
    # when only a dead arm can take the rest, it gets it (the budget is still placed)
    c = Constraints(
        budget=2000.0,
        bounds={"facebook": PlatformBounds(max=100), "tiktok": PlatformBounds(max=100)},
    )
    s = solve(dead, c)
    assert s.sum() == pytest.approx(2000.0)
    assert s[1] == pytest.approx(1800.0)


def test_extrapolation_cap_limits_arms() -> None:
    curves = synthetic_curves(3, 50, seed=3, max_observed_spend=[200.0, 200.0, 5000.0])
    c = Constraints(budget=3000.0, max_extrapolation=2.0)
    s = solve(curves, c)
    assert np.all(s[:2] <= 400.0 + 1e-9)
    assert s.sum() == pytest.approx(3000.0)


def test_posterior_mean_solve_is_fast_enough_for_many_draws() -> None:
    """Guard against a pathological slowdown (the measured figures are reported, not asserted)."""
    import time

    curves = synthetic_curves(3, 2000, seed=0)
    c = Constraints(budget=3000.0)
    solve(curves, c)
    t = time.perf_counter()
    solve(curves, c)
    assert time.perf_counter() - t < 1.0


def test_batched_draws_under_a_cpa_target_match_one_at_a_time() -> None:
    """Rows of a batch where the target binds and rows where it does not are independent."""
    curves = synthetic_curves(3, 200, seed=14, spread=0.6)
    c = Constraints(budget=2500.0, target_cpa=45.0)
    draws = list(range(12))
    batch = solve_draws(curves, c, draws)
    single = np.array([solve(curves, c, draw=d) for d in draws])
    np.testing.assert_allclose(batch, single, rtol=1e-8, atol=1e-6)
    spent = batch.sum(axis=1)
    assert (spent < 2500.0 - 1e-6).any()
    assert (spent > 2500.0 - 1e-6).any()  # both kinds of rows are in the batch


# --- switching cost (no-trade band) --------------------------------------------------------------


def _sticky_value(curves: ResponseCurves, s: np.ndarray, prev: np.ndarray, lam: float) -> float:
    return value(curves, s) - lam * float(np.abs(s - prev).sum())


@settings(PROPS, max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    n_arms=st.sampled_from([3, 7, 40]),
    n_draws=st.sampled_from([1, 30]),
)
def test_sticky_solve_is_the_optimum_net_of_the_switching_cost(
    seed: int, n_arms: int, n_draws: int
) -> None:
    """KKT of ``max f(s) - lam |s - prev|``: buyers share ``nu + lam``, sellers ``nu - lam``, and
    arms that stay put have marginal returns inside the band; scipy finds nothing better."""
    rng = np.random.default_rng(seed)
    curves = random_curves(rng, n_arms, n_draws, posts=True)
    budget = float(rng.uniform(500, 10000))
    comp = compile_constraints(curves, Constraints(budget=budget))
    plain = solve(curves, Constraints(budget=budget))
    prev = rng.dirichlet(np.ones(n_arms)) * budget
    s = solve_sticky(curves, comp, prev, 0.05)
    assert s.sum() == pytest.approx(budget, rel=1e-10)
    assert np.all(s >= 0)
    marg = curves.marginal(plain).mean(axis=0)
    lam = 0.05 * float(np.median(marg[plain > 1e-9 * budget]))
    m = curves.marginal(s).mean(axis=0)
    tol = 1e-6 * budget
    up, down = s > prev + tol, (s < prev - tol) & (s > tol)
    stay = ~up & ~down & (s > tol)
    nu = np.concatenate([m[up] - lam, m[down] + lam])
    if nu.size:
        assert np.ptp(nu) <= 1e-6 * float(np.abs(nu).max())  # one multiplier for every mover
        assert np.all(m[stay] <= nu[0] + lam * (1 + 1e-6))
        assert np.all(m[stay] >= nu[0] - lam * (1 + 1e-6))
    # never beaten by plain water-filling or by staying put (both feasible) on the net objective
    got = _sticky_value(curves, s, prev, lam)
    assert got >= _sticky_value(curves, plain, prev, lam) - 1e-9 * abs(got)
    assert got >= _sticky_value(curves, prev, prev, lam) - 1e-9 * abs(got)


def test_sticky_solve_ignores_a_wobble_inside_the_band_but_follows_a_real_change() -> None:
    curves = synthetic_curves(5, 200, seed=11)
    c = Constraints(budget=3000.0)
    yesterday = solve(curves, c)
    wobble = replace(curves, beta=curves.beta * np.array([1.01, 0.99, 1.0, 1.01, 0.99]))
    comp = compile_constraints(wobble, c)
    assert 0.5 * np.abs(solve(wobble, c) - yesterday).sum() > 5.0  # the plain optimum moves
    np.testing.assert_allclose(solve_sticky(wobble, comp, yesterday, 0.05), yesterday, rtol=1e-9)
    np.testing.assert_array_equal(solve_sticky(wobble, comp, yesterday, 0.0), solve(wobble, c))
    change = replace(curves, beta=curves.beta * np.array([1.5, 1.0, 1.0, 1.0, 0.7]))
    moved = solve_sticky(change, compile_constraints(change, c), yesterday, 0.05)
    plain = solve(change, c)
    assert moved[0] > yesterday[0] + 50
    assert moved[4] < yesterday[4] - 50
    assert 0.5 * np.abs(moved - yesterday).sum() < 0.5 * np.abs(plain - yesterday).sum()


def test_sticky_solve_keeps_platform_bounds_and_boxes() -> None:
    rng = np.random.default_rng(5)
    curves = random_curves(rng, 9, 20, posts=True)
    budget = 4000.0
    c = _facebook_capped_tiktok_floored(budget, 0.2, 0.4)
    comp = compile_constraints(curves, c)
    prev = np.full(9, budget / 9)
    s = solve_sticky(curves, comp, prev, 0.1)
    plat = np.asarray(curves.platform)
    assert s.sum() == pytest.approx(budget, rel=1e-10)
    assert s[plat == "facebook"].sum() <= 0.2 * budget * (1 + 1e-9)
    assert s[plat == "tiktok"].sum() >= 0.4 * budget * (1 - 1e-9)
    assert np.all(s >= comp.lo - 1e-9)
    assert np.all(s <= comp.hi + 1e-9)
    with pytest.raises(ValueError, match="cost must be >= 0"):
        solve_sticky(curves, comp, prev, -0.1)
    with pytest.raises(ValueError, match="previous has shape"):
        solve_sticky(curves, comp, prev[:3], 0.1)
