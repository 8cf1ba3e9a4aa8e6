"""The daily campaign world (amplify.simulate.CampaignWorld): families, noise, variants, oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplify.constants import PLATFORMS
from amplify.simulate import (
    DELAY_PMF,
    FAMILIES,
    VARIANTS,
    CampaignWorld,
    DayOutcome,
    make_curves,
    oracle_split,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True)
seeds = st.integers(0, 2**31)
families = st.sampled_from([*FAMILIES, "mixed"])
variants = st.sampled_from(VARIANTS)


def _world(seed: int, posts: bool, **kw: object) -> CampaignWorld:
    return CampaignWorld.posts(seed, 12, **kw) if posts else CampaignWorld(seed, **kw)  # type: ignore[arg-type]


# --- construction
def test_arms_and_validation() -> None:
    w = CampaignWorld(0)
    assert w.arms == PLATFORMS
    assert w.platform == PLATFORMS
    assert w.delay_pmf.sum() == pytest.approx(1.0)
    assert len(w.delay_pmf) == 7
    p = CampaignWorld.posts(0, 30)
    assert len(p.arms) == 30
    assert len(set(p.arms)) == 30
    assert set(p.platform) == set(PLATFORMS)
    assert all(a.split(":")[0] == pl for a, pl in zip(p.arms, p.platform, strict=True))
    with pytest.raises(ValueError, match="variant"):
        CampaignWorld(0, variant="chaos")
    with pytest.raises(ValueError, match="family"):
        CampaignWorld(0, family="sigmoid")
    with pytest.raises(ValueError, match="platform of arm"):
        CampaignWorld(0, arms=["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        w.step(np.ones(4), 0)
    with pytest.raises(ValueError, match="non-negative"):
        w.step(np.array([1.0, -1.0, 1.0]), 0)


# --- one day
@FAST
@given(
    seed=seeds,
    posts=st.booleans(),
    family=families,
    variant=variants,
    day=st.integers(0, 120),
    total=st.floats(0.0, 20000.0),
    weights=st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12),
)
def test_day_outcome_invariants(
    seed: int, posts: bool, family: str, variant: str, day: int, total: float, weights: list[float]
) -> None:
    w = _world(seed, posts, family=family, variant=variant)
    n = len(w.arms)
    wt = np.array(weights[:n]) + 1e-3
    spend = total * wt / wt.sum()
    out = w.step(spend, day)
    assert isinstance(out, DayOutcome)
    assert out.day == day
    np.testing.assert_array_equal(out.spend_set, spend)
    assert np.all(out.spend >= 0)
    assert np.all(np.abs(out.spend - spend) <= 0.3 * spend + 1e-9)
    for counts in (out.impressions, out.clicks, out.conversions):
        assert counts.shape == (n,)
        assert counts.dtype.kind == "i"
        assert np.all(counts >= 0)
    assert np.all(out.clicks <= out.impressions)
    assert out.report_delay.shape == (n, len(w.delay_pmf))
    assert np.all(out.report_delay >= 0)
    np.testing.assert_array_equal(out.report_delay.sum(axis=1), out.conversions)
    np.testing.assert_allclose(out.expected, w.expected(out.spend, day))
    assert np.all(out.conversions[spend == 0] == 0)


@FAST
@given(seed=seeds, posts=st.booleans(), day=st.integers(0, 200), variant=variants)
def test_noise_is_paired_across_policies(seed: int, posts: bool, day: int, variant: str) -> None:
    w = _world(seed, posts, variant=variant)
    n = len(w.arms)
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * w.daily_budget / n, n)
    b = rng.uniform(0, 2 * w.daily_budget / n, n)
    b[0] = a[0]  # arm 0 is asked the same in both plans
    oa, ob = w.step(a, day), w.step(b, day)
    np.testing.assert_array_equal(w.shocks(day), w.shocks(day))
    np.testing.assert_allclose(oa.spend / np.maximum(a, 1e-300), ob.spend / np.maximum(b, 1e-300))
    assert oa.conversions[0] == ob.conversions[0]
    assert oa.clicks[0] == ob.clicks[0]
    assert oa.impressions[0] == ob.impressions[0]
    np.testing.assert_array_equal(oa.report_delay[0], ob.report_delay[0])
    # common random numbers: more spend on an arm never gives fewer counts on the same day
    hi = np.maximum(a, b)
    lo = np.minimum(a, b)
    oh, ol = w.step(hi, day), w.step(lo, day)
    assert np.all(oh.impressions >= ol.impressions)
    assert np.all(oh.conversions >= ol.conversions)


def test_shocks_are_common_and_per_arm_and_mean_one() -> None:
    w = CampaignWorld.posts(4, 20)
    shocks = np.array([w.shocks(d) for d in range(400)])
    assert shocks.mean() == pytest.approx(1.0, abs=0.02)
    assert 0.07 < np.log(shocks).std() < 0.14
    # a common component: arms move together
    c = np.corrcoef(np.log(shocks).T)
    assert c[np.triu_indices(20, 1)].mean() > 0.2
    assert not np.allclose(w.shocks(1), w.shocks(2))


def test_reporting_delays_follow_the_pmf() -> None:
    w = CampaignWorld(2)
    total = np.zeros(len(w.delay_pmf))
    for d in range(150):
        total += w.step(np.array([1500.0, 500.0, 1000.0]), d).report_delay.sum(axis=0)
    np.testing.assert_allclose(total / total.sum(), DELAY_PMF, atol=0.03)


def test_binomial_quantile_agrees_with_scipy_stats() -> None:
    # the world calls the ufunc behind scipy.stats.binom.ppf directly (speed); a SciPy that changed
    # it would change every simulated world, so it must agree with the public method exactly
    from scipy import stats

    from amplify.simulate.campaign_world import _binom_ppf

    rng = np.random.default_rng(0)
    q = np.clip(rng.random(4000), 1e-12, 1 - 1e-12)
    n = np.concatenate([np.zeros(500), rng.integers(0, 50, 1500), rng.integers(0, 10**7, 2000)])
    p = rng.random(4000)
    p[:300], p[300:600], p[600:700] = 0.0, 1.0, np.nan
    np.testing.assert_array_equal(_binom_ppf(q, n, p), stats.binom.ppf(q, n, p))


def test_same_seed_same_world_and_history() -> None:
    a, b = CampaignWorld(9, variant="drift"), CampaignWorld(9, variant="drift")
    s = np.array([900.0, 1200.0, 900.0])
    for d in (0, 7, 45):
        oa, ob = a.step(s, d), b.step(s, d)
        for field in ("spend", "impressions", "clicks", "conversions", "report_delay"):
            np.testing.assert_array_equal(getattr(oa, field), getattr(ob, field))
    assert a.history(20).equals(b.history(20))
    other = CampaignWorld(10, variant="drift")
    assert not np.allclose(a.expected(s, 3), other.expected(s, 3))
    assert not np.array_equal(a.shocks(3), other.shocks(3))


# --- truth
@FAST
@given(
    seed=seeds,
    posts=st.booleans(),
    family=families,
    variant=variants,
    day=st.integers(-60, 150),
    s=st.floats(0.0, 10000.0),
    extra=st.floats(0.0, 10000.0),
)
def test_more_spend_never_lowers_expected(
    seed: int, posts: bool, family: str, variant: str, day: int, s: float, extra: float
) -> None:
    w = _world(seed, posts, family=family, variant=variant)
    n = len(w.arms)
    lo = w.expected(np.full(n, s), day)
    hi = w.expected(np.full(n, s + extra), day)
    assert np.all(lo >= 0)
    assert np.all(hi >= lo - 1e-12 * np.maximum(hi, 1.0))


def test_families_are_anchored_and_shaped() -> None:
    fam = ("hill", "hill", "power", "tanh")
    c = make_curves(fam, eff=[0.05] * 4, K=[400.0] * 4, shape=[0.8, 2.0, 0.5, 1.0])
    np.testing.assert_allclose(c.value(np.full(4, 400.0)), 0.05 * 400 / 2)
    s = np.linspace(1, 3000, 50)
    vals = c.value(np.repeat(s[:, None], 4, axis=1))
    for j in range(4):
        assert c.value_arm(j, 123.0) == pytest.approx(c.value(np.full(4, 123.0))[j])
    # S-shaped hill (n = 2): marginal return first rises, then falls
    marg = np.diff(vals[:, 1])
    assert marg.argmax() > 0
    # the others are concave
    for j in (0, 2, 3):
        assert np.all(np.diff(np.diff(vals[:, j])) <= 1e-9)


def test_mixed_worlds_use_every_family() -> None:
    seen = set()
    for seed in range(10):
        seen.update(CampaignWorld.posts(seed, 15).families)
    assert seen == set(FAMILIES)
    assert set(CampaignWorld(0, family="power").families) == {"power"}


def test_variants_change_the_truth_as_documented() -> None:
    b = 3000.0
    u = np.full(3, b / 3)
    st_ = CampaignWorld(5)
    np.testing.assert_allclose(st_.expected(u, 0), st_.expected(u, 80))
    mild = CampaignWorld(5, variant="mild_change")
    j = mild.changed_arm
    assert j is not None
    assert mild.change_day == 45
    before, after = mild.expected(u, 44), mild.expected(u, 45)
    assert after[j] == pytest.approx(0.7 * before[j])
    np.testing.assert_allclose(np.delete(after, j), np.delete(before, j))
    sev = CampaignWorld(5, variant="severe_change")
    before, after = sev.expected(u, 44), sev.expected(u, 45)
    assert after[sev.best_arm] == pytest.approx(before[sev.worst_arm])
    assert after[sev.worst_arm] == pytest.approx(before[sev.best_arm])
    assert np.argmax(after) != np.argmax(before)
    drift = CampaignWorld(5, variant="drift")
    week = np.array([drift.expected(u, d) for d in range(7)])  # (7, n_arms)
    assert np.all(np.ptp(week, axis=0) / week.mean(axis=0) > 0.15)
    np.testing.assert_allclose(drift.expected(u, 3) / drift.expected(u, 10), 1.0, atol=0.1)
    start, end = drift.expected(u, 0), drift.expected(u, 84)
    assert not np.allclose(start / start.sum(), end / end.sum(), atol=0.01)


# --- oracle
@FAST
@given(seed=seeds, posts=st.booleans(), family=families, budget=st.floats(1.0, 12000.0))
def test_oracle_beats_random_feasible_splits(
    seed: int, posts: bool, family: str, budget: float
) -> None:
    w = _world(seed, posts, family=family)
    n = len(w.arms)
    best = w.oracle(budget, 0)
    assert np.all(best >= 0)
    assert best.sum() == pytest.approx(budget, rel=1e-9)
    value = w.expected(best, 0).sum()
    rng = np.random.default_rng(seed)
    splits = np.vstack(
        [
            rng.dirichlet(np.ones(n), size=300) * budget,
            rng.dirichlet(np.full(n, 0.2), size=300) * budget,  # sparse splits
            np.eye(n) * budget,
        ]
    )
    assert value >= w.expected(splits, 0).sum(axis=1).max() * (1 - 1e-9)


def test_oracle_matches_brute_force_on_three_arms() -> None:
    for seed in range(6):
        w = CampaignWorld(seed, family="hill" if seed % 2 else "mixed")
        b = 3000.0
        g = np.linspace(0, b, 601)
        x, y = np.meshgrid(g, g)
        m = x + y <= b
        grid = np.stack([x[m], y[m], b - x[m] - y[m]], axis=-1)
        brute = w.expected(grid, 0).sum(axis=1).max()
        assert w.expected(w.oracle(b, 0), 0).sum() >= brute * (1 - 1e-12)


@FAST
@given(
    seed=seeds,
    budget=st.floats(100.0, 8000.0),
    lo_share=st.floats(0.0, 0.3),
    hi_share=st.floats(0.3, 1.0),
)
def test_oracle_respects_bounds(seed: int, budget: float, lo_share: float, hi_share: float) -> None:
    w = CampaignWorld.posts(seed, 10)
    n = len(w.arms)
    lower = np.full(n, lo_share * budget / n)
    upper = np.full(n, hi_share * budget / 2)
    best = w.oracle(budget, 0, lower, upper)
    assert np.all(best >= lower - 1e-9)
    assert np.all(best <= upper + 1e-9)
    assert best.sum() == pytest.approx(min(budget, upper.sum()), rel=1e-9)
    with pytest.raises(ValueError, match="lower bounds"):
        w.oracle(budget, 0, np.full(n, budget))


def test_uniform_is_clearly_suboptimal() -> None:
    for posts in (False, True):
        ratios = []
        for seed in range(8):
            w = _world(seed, posts)
            n = len(w.arms)
            best = w.expected(w.oracle(w.daily_budget, 0), 0).sum()
            ratios.append(w.expected(np.full(n, w.daily_budget / n), 0).sum() / best)
        assert 0.65 < np.mean(ratios) < 0.92, (posts, ratios)


def test_oracle_split_on_plain_curves() -> None:
    c = make_curves(("tanh", "tanh"), eff=[0.05, 0.05], K=[100.0, 100.0], shape=[1.0, 1.0])
    np.testing.assert_allclose(oracle_split(c, 500.0), [250.0, 250.0], atol=0.05)
    np.testing.assert_allclose(oracle_split(c, 0.0), [0.0, 0.0])
    np.testing.assert_allclose(oracle_split(c, 500.0, upper=[100.0, 100.0]), [100.0, 100.0])


# --- pre-period ---
def test_history_for_warm_starts() -> None:
    w = CampaignWorld.posts(1, 12, variant="severe_change")
    h = w.history(30)
    assert list(h.columns) == [
        "day",
        "arm",
        "platform",
        "spend",
        "impressions",
        "clicks",
        "conversions",
    ]
    assert len(h) == 30 * 12
    assert h["day"].min() == -30
    assert h["day"].max() == -1
    assert (h["clicks"] <= h["impressions"]).all()
    assert (h[["spend", "impressions", "clicks", "conversions"]] >= 0).all().all()
    per_arm_cv = h.groupby("arm")["spend"].agg(lambda s: s.std() / s.mean())
    assert (per_arm_cv > 0.3).all()  # varied spends identify the curves
    daily = h.groupby("day")["spend"].sum()
    assert daily.mean() == pytest.approx(w.daily_budget, rel=0.2)
    assert h.equals(w.history(30))
    assert not h["spend"].equals(w.history(30, rng_seed=1)["spend"])
    # the pre-period is before the change: the same truth as day 0
    np.testing.assert_allclose(
        w.expected(np.full(12, 250.0), -5), w.expected(np.full(12, 250.0), 0)
    )
