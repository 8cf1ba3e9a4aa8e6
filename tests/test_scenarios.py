"""What-if scenarios: each one changes the answer it should, relative to its own baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from amplify.allocate import ConstraintError, Constraints, PlatformBounds, ThompsonPolicy
from amplify.scenarios import Scenario, apply_scenario, compare
from amplify.testing import synthetic_curves


@pytest.fixture(scope="module")
def curves():
    return synthetic_curves(3, 400, seed=31)


@pytest.fixture(scope="module")
def base() -> Constraints:
    return Constraints(budget=3000.0, bounds={"facebook": PlatformBounds(max=2000.0)})


def _row(df: pd.DataFrame, scenario: str, platform: str = "total") -> pd.Series:
    hit = df[(df.scenario == scenario) & (df.platform == platform)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_table_layout(curves, base) -> None:
    df = compare(curves, [Scenario(name="more", budget=4000.0)], base, 0)
    assert list(df.scenario.unique()) == ["baseline", "more"]
    assert list(df[df.scenario == "more"].platform) == ["facebook", "instagram", "tiktok", "total"]
    for col in [
        "conv_mean",
        "conv_p10",
        "conv_p90",
        "conv_p2_5",
        "conv_p97_5",
        "cpa_mean",
        "cpa_p10",
        "delta_conv_mean",
        "delta_conv_p10",
        "delta_conv_p90",
        "prob_better",
        "same_as_baseline",
    ]:
        assert col in df.columns
    b = _row(df, "baseline")
    assert b.delta_conv_mean == 0.0
    assert b.spend == pytest.approx(3000.0)


def test_budget_scenario_spends_more_and_converts_more(curves, base) -> None:
    df = compare(curves, [Scenario(name="more", budget=4000.0)], base, 0)
    r = _row(df, "more")
    assert r.spend == pytest.approx(4000.0)
    assert r.delta_conv_p2_5 > 0  # more money never hurts, in every draw
    assert r.prob_better == 1.0
    assert not r.same_as_baseline


def test_cost_shock_hits_the_shocked_platform(curves, base) -> None:
    df = compare(
        curves, [Scenario(name="tt_cpm", shocks={"TikTok": {"cpm": 0.5, "cvr": -0.2}})], base, 0
    )
    tt, b_tt = _row(df, "tt_cpm", "tiktok"), _row(df, "baseline", "tiktok")
    assert tt.spend < b_tt.spend  # money moves away from the dearer platform
    assert tt.conv_mean < b_tt.conv_mean
    assert _row(df, "tt_cpm").delta_conv_p97_5 < 0  # worse in (almost) every draw
    # without replanning, the same spend buys less
    kept = compare(
        curves, [Scenario(name="kept", shocks={"tiktok": {"cpm": 0.5}}, replan=False)], base, 0
    )
    assert _row(kept, "kept", "tiktok").spend == pytest.approx(b_tt.spend)
    assert _row(kept, "kept").delta_conv_mean < 0


def test_shock_on_every_platform(curves, base) -> None:
    df = compare(curves, [Scenario(name="all", shocks={"all": {"cvr": 0.1}})], base, 0)
    assert _row(df, "all").conv_mean == pytest.approx(
        _row(df, "baseline").conv_mean * 1.1, rel=1e-9
    )


def test_lock_scenario_holds_the_lock(curves, base) -> None:
    df = compare(curves, [Scenario(name="lock", locks={"instagram": 1500.0})], base, 0)
    assert _row(df, "lock", "instagram").spend == pytest.approx(1500.0)
    assert _row(df, "lock").delta_conv_mean <= 1e-9  # a forced split cannot beat the optimum


def test_bounds_scenario_replaces_the_baselines_bound(curves, base) -> None:
    first = compare(curves, [], base, 0)
    big = first[first.platform != "total"].sort_values("spend").iloc[-1]
    cap = 0.5 * big.spend
    df = compare(curves, [Scenario(name="cap", bounds={big.platform: {"max": cap}})], base, 0)
    assert _row(df, "cap", big.platform).spend == pytest.approx(cap)
    assert not _row(df, "cap").same_as_baseline
    assert _row(df, "cap").delta_conv_mean < 0


def test_top_n_posts_keeps_the_best() -> None:
    posts = synthetic_curves(20, 200, seed=2, posts=True)
    c = Constraints(budget=4000.0)
    df = compare(posts, [Scenario(name="top5", top_n_posts=5)], c, 0)
    cur, _ = apply_scenario(posts, Scenario(name="top5", top_n_posts=5), c)
    assert cur.n_arms == 5
    score = posts.conversions(np.full(20, 800.0)).mean(axis=0)
    assert set(cur.arms) == {posts.arms[j] for j in np.argsort(-score)[:5]}
    assert _row(df, "top5").spend == pytest.approx(4000.0)
    assert _row(df, "top5").delta_conv_mean <= 1e-9  # fewer posts cannot beat all posts


def test_a_no_op_scenario_is_flagged_not_silent(curves, base) -> None:
    noop = Scenario(
        name="noop", bounds={"facebook": {"max": 1e9}}
    )  # looser than a bound that never binds
    df = compare(curves, [noop], base, 0)
    r = _row(df, "noop")
    assert r.same_as_baseline
    assert "no effect" in r.note
    with pytest.raises(ValueError, match="no effect"):
        compare(curves, [noop], base, 0, strict=True)
    nothing = compare(curves, [Scenario(name="same")], base, 0)
    assert _row(nothing, "same").note == "asks for no change"


def test_paired_differences_are_tighter_than_unpaired(curves, base) -> None:
    df = compare(curves, [Scenario(name="more", budget=3300.0)], base, 0)
    r, b = _row(df, "more"), _row(df, "baseline")
    paired = r.delta_conv_p90 - r.delta_conv_p10
    unpaired = (r.conv_p90 - r.conv_p10) + (b.conv_p90 - b.conv_p10)
    assert paired < unpaired / 3


def test_random_policy_is_paired_across_scenarios(curves, base) -> None:
    same = compare(curves, [Scenario(name="same")], base, 5, policy=ThompsonPolicy())
    assert _row(same, "same").delta_conv_mean == 0.0  # the same stream for both: no sampling noise


def test_scenario_validation(curves, base) -> None:
    with pytest.raises(ValidationError):
        Scenario(name="x", shocks={"tiktok": {"cpm": -1.0}})
    with pytest.raises(ValidationError):
        Scenario(name="x", budjet=10)
    with pytest.raises(ValidationError):
        Scenario(name="baseline")
    with pytest.raises(ValidationError):
        Scenario(name="x", top_n_posts=0)
    with pytest.raises(ConstraintError, match=r"scenario 'big': .*above the budget"):
        compare(curves, [Scenario(name="big", locks={"tiktok": 5000.0})], base, 0)
    with pytest.raises(KeyError, match="scenario 'pin'"):
        compare(curves, [Scenario(name="pin", shocks={"pinterest": {"cpm": 0.1}})], base, 0)
    with pytest.raises(ValueError, match="unique"):
        compare(curves, [Scenario(name="a"), Scenario(name="a")], base, 0)
    sc = Scenario(name="x", budget=10.0)
    with pytest.raises(ValidationError):
        sc.budget = 20.0  # type: ignore[misc]
