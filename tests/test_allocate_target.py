"""The inverse question: what budget reaches N conversions at CPA <= X?"""

from __future__ import annotations

import numpy as np
import pytest

from amplify.allocate import Constraints, PlatformBounds, budget_for_target, solve
from amplify.testing import synthetic_curves


@pytest.fixture(scope="module")
def curves():
    return synthetic_curves(3, 300, seed=12)


def _expected(curves, budget: float, c: Constraints | None = None) -> float:
    cc = (c or Constraints(budget=budget)).with_budget(budget)
    return float(curves.conversions(solve(curves, cc)).sum(axis=1).mean())


def test_least_budget_reaching_the_conversions(curves) -> None:
    ans = budget_for_target(curves, 60.0)
    assert ans.reachable
    assert ans.budget is not None
    assert ans.conversions == pytest.approx(60.0, rel=1e-4)
    assert _expected(curves, ans.budget * 0.999) < 60.0  # any less falls short
    assert 0.2 < ans.prob_reach < 0.8  # about a coin flip at the expected value
    assert ans.plan is not None
    assert ans.plan.spend.sum() == pytest.approx(ans.budget)


def test_cpa_limit_makes_it_unreachable_and_says_how_far_one_can_go(curves) -> None:
    easy = budget_for_target(curves, 60.0)
    assert easy.cpa is not None
    tight = easy.cpa * 0.8
    ans = budget_for_target(curves, 60.0, max_cpa=tight)
    assert not ans.reachable
    assert ans.budget is None
    assert "above the limit" in ans.reason
    assert ans.max_conversions is not None
    assert ans.max_conversions < 60.0
    assert ans.budget_at_max is not None
    assert ans.budget_at_max / ans.max_conversions == pytest.approx(tight, rel=1e-4)
    ok = budget_for_target(curves, 60.0, max_cpa=easy.cpa * 1.01)
    assert ok.reachable
    assert ok.budget == pytest.approx(easy.budget, rel=1e-5)


def test_saturation_is_unreachable(curves) -> None:
    saturation = float((curves.beta * curves.k).sum(axis=1).mean())
    ans = budget_for_target(curves, saturation * 1.5)
    assert not ans.reachable
    assert "saturate" in ans.reason
    assert ans.max_conversions == pytest.approx(saturation)


def test_platform_maximums_cap_what_is_reachable(curves) -> None:
    c = Constraints(budget=100.0, bounds={p: PlatformBounds(max=500.0) for p in curves.platform})
    ans = budget_for_target(curves, 1000.0, c=c)
    assert not ans.reachable
    assert "maximums allow at most 1,500.00" in ans.reason
    reach = budget_for_target(curves, 20.0, c=c)
    assert reach.reachable
    assert reach.budget is not None
    assert reach.budget <= 1500.0
    assert np.all(reach.plan.spend <= 500.0 + 1e-6)


def test_bad_questions() -> None:
    curves = synthetic_curves(3, 10, seed=0)
    with pytest.raises(ValueError, match="conversions"):
        budget_for_target(curves, -1.0)
    with pytest.raises(ValueError, match="max_cpa"):
        budget_for_target(curves, 10.0, max_cpa=0.0)
