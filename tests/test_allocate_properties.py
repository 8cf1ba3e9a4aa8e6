"""Invariants every plan from every policy must satisfy, on random curves and random constraints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from amplify.allocate import (
    ConstraintError,
    Constraints,
    EpsilonGreedyPolicy,
    GreedyPolicy,
    Policy,
    ThompsonPolicy,
    UCBPolicy,
    UniformPolicy,
    compile_constraints,
)
from amplify.curves import ResponseCurves
from conftest_allocate import PROPS, problems

POLICIES: list[Policy] = [
    ThompsonPolicy(),
    ThompsonPolicy(batch=3, smoothing=1.0, explore_cap=0.1),
    GreedyPolicy(),
    EpsilonGreedyPolicy(eps=0.5),
    UCBPolicy(),
    UniformPolicy(),
]


def check_plan(curves: ResponseCurves, c: Constraints, s: np.ndarray) -> None:
    """Assert every constraint of ``c`` on the plan ``s``."""
    comp = compile_constraints(curves, c)
    tol = 1e-6 * max(c.budget, 1.0)
    assert s.shape == (curves.n_arms,)
    assert np.all(np.isfinite(s))
    assert np.all(s >= 0.0)
    if c.target_cpa is None and c.target_roas is None:
        assert s.sum() == pytest.approx(c.budget, abs=tol)
    else:
        assert s.sum() <= c.budget + tol
    # per-arm boxes: hard bounds, and max-change / extrapolation (possibly widened, as compiled)
    assert np.all(s >= comp.lo - tol)
    assert np.all(s <= comp.hi + tol)
    plat = np.asarray(curves.platform)
    for name, b in c.bounds.items():
        total = s[plat == name].sum()
        assert total >= b.lower - tol, name
        assert total <= b.upper + tol, name
    if c.max_change is not None and c.previous is not None and not comp.notes:
        prev = np.array([c.previous.get(a, 0.0) for a in curves.arms])
        assert np.all(np.abs(s - prev) <= c.max_change * c.budget + tol)
    if c.min_per_arm > 0:
        funded = s > tol
        assert np.all(s[funded] >= c.min_per_arm - tol)
    if c.step > 0:
        on_grid = np.abs(s / c.step - np.round(s / c.step)) <= 1e-6
        at_bound = (np.abs(s - comp.lo) <= tol) | (np.abs(s - comp.hi) <= tol)
        if c.min_per_arm > 0:  # an arm held at the per-post minimum sits on a bound too
            at_bound |= np.abs(s - c.min_per_arm) <= tol
        binding = sum(
            1
            for g in comp.groups
            if min(abs(s[g.arms].sum() - g.lo), abs(s[g.arms].sum() - g.hi)) <= tol
        )
        # one arm may carry an off-grid remainder, and one per platform held at an off-grid bound
        assert (~(on_grid | at_bound)).sum() <= 1 + binding


def _plans(curves: ResponseCurves, c: Constraints, policy: Policy, seed: int) -> np.ndarray:
    try:
        return policy.allocate(curves, c, np.random.default_rng(seed))
    except ConstraintError:
        assume(False)
        raise


@PROPS
@given(problem=problems(), pol=st.sampled_from(POLICIES), seed=st.integers(0, 1000))
def test_platform_plans_respect_every_constraint(
    problem: tuple[ResponseCurves, Constraints], pol: Policy, seed: int
) -> None:
    curves, c = problem
    s = _plans(curves, c, pol, seed)
    check_plan(curves, c, s)
    again = pol.allocate(curves, c, np.random.default_rng(seed))
    np.testing.assert_array_equal(s, again)  # same seed, same plan


@settings(PROPS, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(problem=problems(posts=True), pol=st.sampled_from(POLICIES), seed=st.integers(0, 1000))
def test_post_plans_respect_every_constraint(
    problem: tuple[ResponseCurves, Constraints], pol: Policy, seed: int
) -> None:
    curves, c = problem
    s = _plans(curves, c, pol, seed)
    check_plan(curves, c, s)


@PROPS
@given(problem=problems(), target=st.floats(5.0, 500.0), seed=st.integers(0, 1000))
def test_cpa_target_spends_less_only_where_the_margin_is_too_expensive(
    problem: tuple[ResponseCurves, Constraints], target: float, seed: int
) -> None:
    curves, c = problem
    c = c.replace(target_cpa=target, step=0.0)
    s = _plans(curves, c, GreedyPolicy(), seed)
    check_plan(curves, c, s)
    if s.sum() < c.budget * (1 - 1e-6):
        # stopped early: no arm that could still take money has a marginal CPA below the target
        comp = compile_constraints(curves, c)
        marg = curves.marginal(s).mean(axis=0)
        room = s < comp.hi - 1e-6 * c.budget
        plat = np.asarray(curves.platform)
        for name, b in c.bounds.items():
            if b.max is not None and s[plat == name].sum() >= b.upper - 1e-6 * c.budget:
                room &= plat != name
        assert np.all(1.0 / marg[room] >= target * (1 - 1e-6))


def _below_minimum_previous() -> tuple[ResponseCurves, Constraints]:
    """Posts whose previous plan sits below the per-post minimum, with no room to change."""
    curves = ResponseCurves(
        arms=("facebook:p0", "instagram:p1", "tiktok:p2", "facebook:p3"),
        beta=np.array([[0.04243579, 0.00925369, 0.00482399, 0.00538062]]),
        k=np.array([[1053.38, 3133.11, 562.23, 1154.93]]),
        platform=("facebook", "instagram", "tiktok", "facebook"),
        max_observed_spend=np.array([4231.9, 6691.3, 1634.1, 2877.4]),
    )
    previous = {"facebook:p0": 5.94, "instagram:p1": 0.67, "tiktok:p2": 0.58, "facebook:p3": 2.81}
    c = Constraints(budget=10.0, min_per_arm=1.25, max_change=0.0, previous=previous)
    return curves, c


@pytest.mark.parametrize("pol", [GreedyPolicy(), ThompsonPolicy()], ids=["greedy", "thompson"])
def test_min_per_post_takes_precedence_over_max_change(pol: Policy) -> None:
    # regression: max_change was widened without the 0-or-minimum rule, so the compiled boxes
    # allowed (and greedy / Thompson returned) funded posts below the minimum
    curves, c = _below_minimum_previous()
    comp = compile_constraints(curves, c)
    m = c.min_per_arm
    assert np.all((comp.lo == 0) | (comp.lo >= m))
    assert np.all((comp.hi == 0) | (comp.hi >= m))
    assert any("min_per_arm" in note for note in comp.notes)
    s = pol.allocate(curves, c, np.random.default_rng(0))
    check_plan(curves, c, s)
    assert s == pytest.approx([5.94, 1.25, 0.0, 2.81])  # the cheapest move to a feasible plan


def test_bounds_the_minimum_per_post_cannot_add_up_to_are_refused() -> None:
    curves, _ = _below_minimum_previous()
    locked = Constraints(
        budget=10.0,
        bounds={"facebook": {"lock": 5.0}, "instagram": {"lock": 4.375}},
        min_per_arm=1.25,
    )
    with pytest.raises(ConstraintError, match="min_per_arm"):
        compile_constraints(curves, locked)  # tiktok would get 0.625: neither 0 nor >= 1.25
