"""Policies: what each one plays, Thompson sampling's churn and exploration knobs, imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from amplify.allocate import (
    Constraints,
    EpsilonGreedyPolicy,
    GreedyPolicy,
    OraclePolicy,
    PlatformBounds,
    Policy,
    ThompsonPolicy,
    UCBPolicy,
    UniformPolicy,
    churn,
    compile_constraints,
    get_policy,
    project,
    solve,
)
from amplify.testing import synthetic_curves, true_curves
from conftest_allocate import value


@pytest.fixture(scope="module")
def curves():
    return synthetic_curves(3, 500, seed=11, spread=0.35)


def test_greedy_is_the_posterior_mean_optimum(curves) -> None:
    c = Constraints(budget=3000.0)
    s = GreedyPolicy().allocate(curves, c, np.random.default_rng(0))
    np.testing.assert_allclose(s, solve(curves, c))


def test_thompson_without_smoothing_plays_the_sampled_draws_optimum(curves) -> None:
    c = Constraints(budget=3000.0)
    rng = np.random.default_rng(5)
    s = ThompsonPolicy(batch=1, smoothing=1.0).allocate(curves, c, rng)
    d = int(np.random.default_rng(5).choice(curves.n_draws, size=1)[0])
    np.testing.assert_allclose(s, solve(curves, c, draw=d), rtol=1e-9, atol=1e-6)
    # a batch plays the average of its draws' optima
    s2 = ThompsonPolicy(batch=2, smoothing=1.0).allocate(curves, c, np.random.default_rng(5))
    d2 = np.random.default_rng(5).choice(curves.n_draws, size=2, replace=False)
    mean = np.mean([solve(curves, c, draw=int(i)) for i in d2], axis=0)
    np.testing.assert_allclose(s2, mean, rtol=1e-9, atol=1e-6)


def test_thompson_explores_greedy_does_not(curves) -> None:
    c = Constraints(budget=3000.0)
    ts = [
        ThompsonPolicy(smoothing=1.0).allocate(curves, c, np.random.default_rng(i))
        for i in range(20)
    ]
    gr = [GreedyPolicy().allocate(curves, c, np.random.default_rng(i)) for i in range(20)]
    assert np.std(np.array(ts)[:, 0]) > 50.0
    assert np.std(np.array(gr)[:, 0]) < 1e-6


def _run(policy: Policy, curves, days: int = 30, budget: float = 3000.0) -> list[float]:
    """Daily churn of a policy fed its own previous plan (a fixed posterior: steady state)."""
    rng = np.random.default_rng(0)
    prev = None
    out = []
    for _ in range(days):
        c = Constraints(budget=budget, previous=prev)
        s = policy.allocate(curves, c, rng)
        if prev is not None:
            out.append(churn(np.array(list(prev.values())), s, budget))
        prev = dict(zip(curves.arms, map(float, s), strict=True))
    return out


def test_smoothing_brings_daily_churn_under_five_percent(curves) -> None:
    plain = np.mean(_run(ThompsonPolicy(batch=1, smoothing=1.0), curves))
    smooth = np.mean(_run(ThompsonPolicy(), curves))  # the default smoothing
    assert plain > 0.08  # plain Thompson sampling reshuffles a lot
    assert smooth <= 0.05
    assert smooth < plain / 2


def test_batch_averaging_calms_the_target(curves) -> None:
    one = np.mean(_run(ThompsonPolicy(batch=1, smoothing=1.0), curves, days=20))
    four = np.mean(_run(ThompsonPolicy(batch=4, smoothing=1.0), curves, days=20))
    assert four < one


def test_explore_cap_limits_distance_from_greedy(curves) -> None:
    c = Constraints(budget=3000.0)
    greedy = solve(curves, c)
    for i in range(10):
        s = ThompsonPolicy(smoothing=1.0, explore_cap=0.02).allocate(
            curves, c, np.random.default_rng(i)
        )
        assert churn(greedy, s, 3000.0) <= 0.02 + 1e-9
    zero = ThompsonPolicy(smoothing=1.0, explore_cap=0.0).allocate(
        curves, c, np.random.default_rng(1)
    )
    np.testing.assert_allclose(zero, greedy, atol=1e-6)


def test_smoothing_follows_a_budget_change(curves) -> None:
    prev = {"facebook": 1000.0, "instagram": 1000.0, "tiktok": 1000.0}
    c = Constraints(budget=6000.0, previous=prev)
    s = ThompsonPolicy().allocate(curves, c, np.random.default_rng(0))
    assert s.sum() == pytest.approx(6000.0)


def test_ucb_is_optimistic_where_it_plays(curves) -> None:
    c = Constraints(budget=3000.0)
    pol = UCBPolicy(q=0.9)
    opt = pol.optimistic_curves(curves, c)
    greedy = solve(curves, c)
    conv = curves.conversions(np.maximum(greedy, 30.0))
    upper = np.quantile(conv, 0.9, axis=0)
    np.testing.assert_allclose(opt.conversions(np.maximum(greedy, 30.0))[0], upper, rtol=0.02)
    s = pol.allocate(curves, c, np.random.default_rng(0))
    assert s.sum() == pytest.approx(3000.0)
    np.testing.assert_allclose(s, solve(opt, c), rtol=1e-9, atol=1e-6)


def test_uniform_is_equal_within_bounds(curves) -> None:
    s = UniformPolicy().allocate(curves, Constraints(budget=3000.0), np.random.default_rng(0))
    np.testing.assert_allclose(s, 1000.0)
    c = Constraints(budget=3000.0, bounds={"tiktok": PlatformBounds(max=400.0)})
    s = UniformPolicy().allocate(curves, c, np.random.default_rng(0))
    np.testing.assert_allclose(s, [1300.0, 1300.0, 400.0])


def test_epsilon_greedy_mixes(curves) -> None:
    c = Constraints(budget=3000.0)
    greedy = solve(curves, c)
    plays = [
        EpsilonGreedyPolicy(eps=0.3).allocate(curves, c, np.random.default_rng(i))
        for i in range(40)
    ]
    random_days = sum(not np.allclose(p, greedy) for p in plays)
    assert 4 <= random_days <= 24


def test_oracle_beats_everyone_on_the_truth(curves) -> None:
    truth = true_curves(curves)
    c = Constraints(budget=3000.0)
    oracle = OraclePolicy(truth).allocate(curves, c, np.random.default_rng(0))
    for pol in [GreedyPolicy(), ThompsonPolicy(), UniformPolicy(), UCBPolicy()]:
        s = pol.allocate(curves, c, np.random.default_rng(0))
        assert value(truth, oracle) >= value(truth, s) - 1e-9
    # a callable oracle (the simulated world's own) gets the per-arm bounds
    seen = {}

    def world_oracle(budget: float, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        seen["args"] = (budget, lower, upper)
        return np.array([budget, 0.0, 0.0])

    s = OraclePolicy(world_oracle).allocate(curves, c, np.random.default_rng(0))
    np.testing.assert_allclose(s, [3000.0, 0.0, 0.0])
    assert seen["args"][0] == 3000.0


def test_get_policy_and_validation() -> None:
    assert isinstance(get_policy("thompson_smoothed", smoothing=0.5), ThompsonPolicy)
    with pytest.raises(ValueError, match="unknown policy"):
        get_policy("softmax")
    with pytest.raises(ValueError, match="smoothing"):
        ThompsonPolicy(smoothing=0.0)
    with pytest.raises(ValueError, match="batch"):
        ThompsonPolicy(batch=0)


def test_churn_definition() -> None:
    assert churn([100, 100], [150, 50], 200) == pytest.approx(0.25)
    assert churn([100, 100], [100, 100]) == 0.0


@pytest.mark.slow
def test_allocator_and_scenarios_do_not_import_pymc() -> None:
    code = (
        "import amplify.allocate, amplify.scenarios, amplify.testing, sys; "
        "assert 'pymc' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_projection_keeps_feasible_plans_and_repairs_others(curves) -> None:
    c = Constraints(budget=3000.0, bounds={"tiktok": PlatformBounds(max=500.0)}, step=10.0)
    comp = compile_constraints(curves, c)
    feasible = np.array([1200.0, 1300.0, 500.0])
    np.testing.assert_allclose(project(feasible, comp)[0], feasible, atol=1e-9)
    fixed = project(np.array([100.0, 100.0, 2800.0]), comp)[0]
    np.testing.assert_allclose(fixed, [1250.0, 1250.0, 500.0])  # the closest feasible split
