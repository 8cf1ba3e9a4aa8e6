"""The default policy: Thompson targets chosen among by information-directed sampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from amplify.allocate import (
    Constraints,
    GreedyPolicy,
    InfoDirectedThompsonPolicy,
    PlatformBounds,
    ThompsonPolicy,
    churn,
    compile_constraints,
    get_policy,
)
from amplify.curves import ResponseCurves

ARMS = ("facebook", "instagram", "tiktok")


def _curves(
    beta_sd: tuple[float, float, float], seed: int = 0, n_draws: int = 200
) -> ResponseCurves:
    """Three arms with similar mean curves; arm j's draws spread by ``beta_sd[j]`` (log scale)."""
    rng = np.random.default_rng(seed)
    beta = np.array([0.05, 0.045, 0.04]) * np.exp(rng.normal(size=(n_draws, 3)) * beta_sd)
    k = np.array([1500.0, 800.0, 600.0]) * np.exp(0.3 * rng.normal(size=(n_draws, 3)) * beta_sd)
    return ResponseCurves(arms=ARMS, beta=beta, k=k, platform=ARMS)


def test_default_policy_is_information_directed_thompson() -> None:
    assert isinstance(get_policy("thompson"), InfoDirectedThompsonPolicy)
    assert isinstance(get_policy("thompson_smoothed"), ThompsonPolicy)


def test_certain_posterior_plays_greedy() -> None:
    """No uncertainty: nothing to learn, so no candidate beats the greedy plan."""
    curves = _curves((0.0, 0.0, 0.0))
    c = Constraints(budget=3000.0)
    ids = InfoDirectedThompsonPolicy().allocate(curves, c, np.random.default_rng(1))
    greedy = GreedyPolicy().allocate(curves, c, np.random.default_rng(1))
    np.testing.assert_allclose(ids, greedy, atol=1e-6 * 3000)


def test_explores_the_uncertain_arm_at_a_fraction_of_thompson_regret() -> None:
    """One arm is much less known: the plan deviates from greedy, cheaper than a full Thompson
    target on average, and each candidate's regret and gain are well-formed."""
    curves = _curves((0.05, 0.05, 0.6))
    c = Constraints(budget=3000.0)
    pol = InfoDirectedThompsonPolicy()
    comp = compile_constraints(curves, c)
    cands, regret, gain = pol.candidates(curves, comp, np.random.default_rng(3))
    assert cands.shape == (1 + len(pol.steps) * pol.batch, 3)
    np.testing.assert_allclose(cands.sum(axis=1), 3000.0, rtol=1e-9)
    assert np.all(regret >= 0)
    assert np.all(gain > 0)
    assert regret[0] == regret.min()  # greedy is the posterior-mean optimum
    full = cands[1 + (len(pol.steps) - 1) * pol.batch :]  # lam = 1: plain Thompson targets
    assert np.mean(regret[-len(full) :]) > regret[0]
    plan = pol.allocate(curves, c, np.random.default_rng(3))
    greedy = cands[0]
    assert churn(greedy, plan, 3000.0) > 1e-3  # it explores, a little
    ratio = regret**2 / gain
    assert ratio[int(np.argmin(ratio))] < ratio[0]  # because exploring beats greedy on the ratio


@pytest.mark.parametrize(
    ("share", "since", "follow"),
    [(1.0, None, 1.0), (0.5, None, 0.5), (0.5, 30, 0.5), (0.5, 3, 1.0)],
)
def test_churn_cap_follows_greedy_moves(share: float, since: int | None, follow: float) -> None:
    """Capped at max_churn, but free to move ``follow_greedy`` of the greedy plan's way; all of it
    within ``change_window`` days of a detected change."""
    curves = replace(_curves((0.3, 0.3, 0.3)), meta={"days_since_change": since})
    prev = {"facebook": 100.0, "instagram": 1400.0, "tiktok": 1500.0}
    c = Constraints(budget=3000.0, previous=prev)
    pol = InfoDirectedThompsonPolicy(max_churn=0.02, follow_greedy=share, switching_cost=0.0)
    plan = pol.allocate(curves, c, np.random.default_rng(0))
    greedy = GreedyPolicy().allocate(curves, Constraints(budget=3000.0), np.random.default_rng(0))
    p = np.array(list(prev.values()))
    moved, greedy_moved = churn(p, plan, 3000.0), churn(p, greedy, 3000.0)
    assert greedy_moved > 0.2  # the cap binds: yesterday's plan is far from today's greedy plan
    assert moved <= max(0.02, follow * greedy_moved) + 1e-3
    assert moved >= follow * greedy_moved - 0.02  # and the plan does move that far
    assert plan.sum() == pytest.approx(3000.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_respects_bounds_and_is_reproducible(seed: int) -> None:
    curves = _curves((0.4, 0.2, 0.6), seed=seed)
    c = Constraints(
        budget=3000.0,
        bounds={"tiktok": PlatformBounds(max=700.0), "facebook": PlatformBounds(min=900.0)},
    )
    pol = InfoDirectedThompsonPolicy()
    a = pol.allocate(curves, c, np.random.default_rng(seed))
    b = pol.allocate(curves, c, np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)
    assert a.sum() == pytest.approx(3000.0)
    assert a[2] <= 700.0 + 1e-6
    assert a[0] >= 900.0 - 1e-6
    assert np.all(a >= 0)


def test_cpa_target_spends_no_more_than_greedy_would_on_a_sure_posterior() -> None:
    curves = _curves((0.0, 0.0, 0.0))
    c = Constraints(budget=30000.0, target_cpa=40.0)
    ids = InfoDirectedThompsonPolicy().allocate(curves, c, np.random.default_rng(0))
    greedy = GreedyPolicy().allocate(curves, c, np.random.default_rng(0))
    assert ids.sum() < 30000.0
    np.testing.assert_allclose(ids, greedy, atol=1e-3)


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_churn"):
        InfoDirectedThompsonPolicy(max_churn=0.0)
    with pytest.raises(ValueError, match="follow_greedy"):
        InfoDirectedThompsonPolicy(follow_greedy=1.5)
    with pytest.raises(ValueError, match="steps"):
        InfoDirectedThompsonPolicy(steps=(0.5, 1.5))
    with pytest.raises(ValueError, match="batch"):
        InfoDirectedThompsonPolicy(batch=0)


@pytest.mark.parametrize(("since", "sticky"), [(None, True), (30, True), (3, False)])
def test_greedy_reference_is_sticky_except_after_a_change(since: int | None, sticky: bool) -> None:
    """Yesterday's greedy plan stays the reference while today's estimates only wobble; within
    ``change_window`` days of a detected change the reference is the plain greedy plan again."""
    base = _curves((0.4, 0.3, 0.5), seed=2)
    yesterday = GreedyPolicy().allocate(base, Constraints(budget=3000.0), np.random.default_rng(0))
    wobble = replace(
        base, beta=base.beta * np.array([1.02, 0.98, 1.0]), meta={"days_since_change": since}
    )
    prev = dict(zip(wobble.arms, yesterday.tolist(), strict=True))
    c = Constraints(budget=3000.0, previous=prev)
    comp = compile_constraints(wobble, c)
    pol = InfoDirectedThompsonPolicy(eval_draws=10_000, switching_cost=0.05)
    cands, _, _ = pol.candidates(wobble, comp, np.random.default_rng(1))
    plain = GreedyPolicy().allocate(wobble, Constraints(budget=3000.0), np.random.default_rng(0))
    assert churn(yesterday, plain, 3000.0) > 0.005  # the plain optimum moves with the wobble
    expected = yesterday if sticky else plain
    np.testing.assert_allclose(cands[0], expected, rtol=1e-6, atol=1e-6 * 3000.0)
