"""The post-level simulated world (amplify.simulate.World), its truth, the bundled sample data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplify import constants as C
from amplify.curves import ResponseCurves
from amplify.simulate import (
    AUDIENCE,
    PlatformTruth,
    World,
    WorldTruth,
    default_truth,
    mm_oracle,
)
from amplify.simulate.truth import FORMATS_BY_PLATFORM, expit

FAST = settings(max_examples=25, deadline=None, derandomize=True)


# --- truth
def test_default_truth_follows_published_figures() -> None:
    t = default_truth()
    p = t.platforms
    er = {name: expit(q.er_logit) for name, q in p.items()}
    assert er[C.INSTAGRAM] == pytest.approx(0.035)
    assert er[C.TIKTOK] == pytest.approx(0.015)
    assert er[C.FACEBOOK] == pytest.approx(0.013)
    # ready-to-buy shares 39 : 36 : 29 as relative conversion rates
    assert p[C.FACEBOOK].cvr / p[C.INSTAGRAM].cvr == pytest.approx(39 / 29)
    assert p[C.TIKTOK].cvr / p[C.INSTAGRAM].cvr == pytest.approx(36 / 29)
    assert p[C.FACEBOOK].cpm > p[C.INSTAGRAM].cpm > p[C.TIKTOK].cpm
    for q in p.values():
        assert 0.02 <= q.cvr <= 0.05
        assert 0.003 <= expit(q.ctr_logit) <= 0.016


def test_jittered_truths_differ_but_stay_plausible() -> None:
    truths = [default_truth(s) for s in range(25)]
    assert default_truth(7) == default_truth(7)
    cpms = {round(t.platforms[C.FACEBOOK].cpm, 6) for t in truths}
    assert len(cpms) == 25
    for t in truths:
        for q in t.platforms.values():
            assert 3.0 < q.cpm < 25.0
            assert 20.0 < q.k < 2000.0
            assert 0.002 < expit(q.ctr_logit) < 0.03
            assert 0.005 < q.cvr < 0.1
            assert 0.003 < expit(q.er_logit) < 0.08


@FAST
@given(seed=st.one_of(st.none(), st.integers(0, 2**31)))
def test_truth_json_round_trip(seed: int | None) -> None:
    t = default_truth(seed)
    back = WorldTruth.from_dict(json.loads(json.dumps(t.to_dict())))
    assert back == t


def test_truth_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="lacks keys"):
        WorldTruth.from_dict({"platforms": {}})
    d = default_truth().to_dict()
    d["platforms"]["tiktok"]["cpmm"] = 1.0
    with pytest.raises(ValueError, match="cpmm"):
        WorldTruth.from_dict(d)
    q = default_truth().platforms[C.TIKTOK]
    with pytest.raises(ValueError, match="cpm"):
        PlatformTruth(**{**q.__dict__, "cpm": -1.0})


# --- post histories
@FAST
@given(
    seed=st.integers(0, 2**31),
    n_posts=st.integers(1, 300),
    boosted=st.floats(0.0, 1.0),
    missing=st.sampled_from([0.0, 0.3]),
    jitter=st.booleans(),
)
def test_post_table_invariants(
    seed: int, n_posts: int, boosted: float, missing: float, jitter: bool
) -> None:
    world = World(default_truth(seed) if jitter else None, seed=seed)
    df = world.posts(n_posts, boosted_share=boosted, organic_missing_share=missing)
    assert list(df.columns) == [*C.CANONICAL_COLUMNS, AUDIENCE]
    assert len(df) == n_posts
    assert not df.duplicated([C.PLATFORM, C.POST_ID]).any()
    assert set(df[C.PLATFORM]) <= set(C.PLATFORMS)
    for p, fmts in FORMATS_BY_PLATFORM.items():
        assert set(df.loc[df[C.PLATFORM] == p, C.FORMAT]) <= set(fmts)
    counts = df[list(C.COUNT_COLUMNS)]
    assert (counts.fillna(0) >= 0).all().all()
    assert (counts.fillna(0) % 1 == 0).all().all()
    assert (df[C.CLICKS] <= df[C.PAID_IMPRESSIONS]).all()
    org = df.dropna(subset=list(C.ORGANIC_COLUMNS))
    assert (org[C.ORGANIC_ENGAGEMENTS] <= org[C.ORGANIC_IMPRESSIONS]).all()
    assert (org[C.ORGANIC_REACH] <= org[C.ORGANIC_IMPRESSIONS]).all()
    assert (org[C.ORGANIC_SHARES] <= org[C.ORGANIC_ENGAGEMENTS]).all()
    assert (df[C.BOOSTED] == (df[C.SPEND] > 0)).all()
    assert df[C.BOOSTED].sum() == round(boosted * n_posts)
    idle = df[~df[C.BOOSTED]]
    assert (idle[[C.PAID_IMPRESSIONS, C.CLICKS, C.CONVERSIONS, C.REVENUE]] == 0).all().all()
    assert df[C.POSTED_AT].is_monotonic_increasing
    if missing == 0.0:
        assert not df[list(C.ORGANIC_COLUMNS)].isna().any().any()


@FAST
@given(seed=st.integers(0, 2**31), n_posts=st.integers(1, 200))
def test_same_seed_same_world(seed: int, n_posts: int) -> None:
    a = World(default_truth(seed), seed=seed).posts(n_posts)
    b = World(default_truth(seed), seed=seed).posts(n_posts)
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_differ() -> None:
    a = World(seed=1).posts(100)
    b = World(seed=2).posts(100)
    assert not a[C.ORGANIC_IMPRESSIONS].equals(b[C.ORGANIC_IMPRESSIONS])


def test_history_looks_like_an_account() -> None:
    world = World(seed=3)
    df = world.posts(3000, boosted_share=0.3)
    truth = world.post_truth()
    er = df[C.ORGANIC_ENGAGEMENTS] / df[C.ORGANIC_IMPRESSIONS]
    by = er.groupby(df[C.PLATFORM]).median()
    assert by[C.INSTAGRAM] > by[C.TIKTOK] > by[C.FACEBOOK]
    # resonance drives organic engagement and paid CTR alike
    assert np.corrcoef(truth["resonance"], np.log(er + 1e-4))[0, 1] > 0.3
    # boosts go to posts that did well organically
    boosted = df[C.BOOSTED]
    assert er[boosted].mean() > er[~boosted].mean()
    b = df[boosted]
    ctr = b[C.CLICKS].sum() / b[C.PAID_IMPRESSIONS].sum()
    assert 0.006 < ctr < 0.02
    cpm = 1000 * b[C.SPEND].sum() / b[C.PAID_IMPRESSIONS].sum()
    assert 5.0 < cpm < 20.0
    cpa = b[C.SPEND].sum() / b[C.CONVERSIONS].sum()
    assert 10.0 < cpa < 80.0
    # view-through conversions may exceed clicks now and then, but not usually
    assert (b[C.CONVERSIONS] <= b[C.CLICKS]).mean() > 0.9


def test_organic_missing_rows_load_as_missing() -> None:
    df = World(seed=5).posts(200, organic_missing_share=0.25)
    missing = df[C.ORGANIC_IMPRESSIONS].isna()
    assert 0.1 < missing.mean() < 0.4
    assert df.loc[missing, list(C.ORGANIC_COLUMNS)].isna().all().all()
    assert df[C.SPEND].notna().all()


# --- true curves and the oracle
def test_true_post_curves_follow_the_post_truth() -> None:
    world = World(default_truth(11), seed=11)
    df = world.posts(60)
    curves = world.true_post_curves(df)
    assert isinstance(curves, ResponseCurves)
    assert curves.n_draws == 1
    assert curves.arms == tuple(
        f"{p}:{i}" for p, i in zip(df[C.PLATFORM], df[C.POST_ID], strict=True)
    )
    truth = world.post_truth()
    q = world.truth.platforms[df[C.PLATFORM].iloc[0]]
    expect = 1000 / q.cpm * (truth["paid_ctr"].iloc[0] * q.cvr + q.view_through)
    assert curves.beta[0, 0] == pytest.approx(expect)
    assert curves.k[0, 0] == pytest.approx(q.k)
    # higher resonance on the same platform and audience -> higher beta
    sub = truth[(truth[C.PLATFORM] == C.INSTAGRAM) & (truth[AUDIENCE] == "broad")]
    lin = sub["resonance"] * q.resonance_ctr + sub["ctr_u"]
    beta = pd.Series(curves.beta[0], index=truth.index)[sub.index]
    assert np.corrcoef(lin, beta)[0, 1] > 0.95
    with pytest.raises(KeyError, match="not drawn"):
        world.true_post_curves(pd.DataFrame({C.PLATFORM: ["tiktok"], C.POST_ID: ["nope"]}))


def test_true_curves_need_posts_first() -> None:
    with pytest.raises(RuntimeError, match="posts"):
        World(seed=0).post_truth()


def test_platform_curves_scale_with_boosts() -> None:
    world = World(seed=0)
    one = world.true_platform_curves()
    four = world.true_platform_curves(4)
    assert one.arms == C.PLATFORMS
    np.testing.assert_allclose(four.k, 4 * one.k)
    np.testing.assert_allclose(four.beta, one.beta)
    # the best split is far from uniform on the default world
    b = 300.0
    best = world.oracle(one, b)
    uniform = np.full(3, b / 3)
    assert one.conversions(uniform).sum() < 0.97 * one.conversions(best).sum()
    assert np.abs(best - uniform).max() > 0.2 * b


@FAST
@given(
    seed=st.integers(0, 2**31),
    s1=st.floats(0.0, 5000.0),
    extra=st.floats(0.0, 5000.0),
)
def test_more_spend_never_lowers_expected_conversions(seed: int, s1: float, extra: float) -> None:
    world = World(default_truth(seed), seed=seed)
    df = world.posts(30)
    for curves in (world.true_post_curves(df), world.true_platform_curves()):
        lo = curves.conversions(np.full(curves.n_arms, s1))
        hi = curves.conversions(np.full(curves.n_arms, s1 + extra))
        assert np.all(hi >= lo - 1e-12)
        assert np.all(lo >= 0)


@FAST
@given(
    seed=st.integers(0, 2**31),
    n_arms=st.integers(1, 12),
    budget=st.floats(0.0, 20000.0),
)
def test_oracle_beats_random_splits(seed: int, n_arms: int, budget: float) -> None:
    rng = np.random.default_rng(seed)
    beta = rng.lognormal(-3.3, 0.6, n_arms)
    k = rng.lognormal(5.5, 0.8, n_arms)
    best = mm_oracle(beta, k, budget)
    assert best.shape == (n_arms,)
    assert np.all(best >= 0)
    assert best.sum() == pytest.approx(budget, abs=1e-6)
    value = (beta * best / (1 + best / k)).sum()
    splits = rng.dirichlet(np.ones(n_arms), size=200) * budget
    values = (beta * splits / (1 + splits / k)).sum(axis=1)
    assert value >= values.max() - 1e-9 * max(1.0, value)
    # KKT: funded arms share one marginal return, unfunded arms are below it
    marg = beta / (1 + best / k) ** 2
    funded = best > 1e-9
    if budget > 1e-6:
        assert np.ptp(marg[funded]) <= 1e-6 * marg[funded].max()
        assert np.all(beta[~funded] <= marg[funded].min() * (1 + 1e-9))


def test_world_oracle_needs_one_draw() -> None:
    world = World(seed=0)
    c = world.true_platform_curves()
    two = ResponseCurves(
        arms=c.arms, beta=np.vstack([c.beta, c.beta]), k=np.vstack([c.k, c.k]), platform=c.platform
    )
    with pytest.raises(ValueError, match="one draw"):
        world.oracle(two, 100.0)


# --- the bundled sample account
def test_bundled_sample_loads_clean_and_matches_its_generator() -> None:
    from amplify.data import load
    from amplify.data.sample import SAMPLE_SEED, make_sample, sample_path, sample_truth

    path = sample_path()
    assert path.exists(), "run scripts/make_sample_data.py"
    assert path.stat().st_size < 200_000
    df = load(path)
    assert list(df.columns) == [*C.CANONICAL_COLUMNS, AUDIENCE]
    assert len(df) == 400
    assert set(df[C.PLATFORM]) == set(C.PLATFORMS)
    assert 0.3 < df[C.BOOSTED].mean() < 0.4
    assert not df.attrs.get("warnings")
    generated, doc = make_sample()
    for col in C.COUNT_COLUMNS:
        np.testing.assert_array_equal(df[col].to_numpy(), generated[col].to_numpy())
    np.testing.assert_allclose(df[C.SPEND], generated[C.SPEND], atol=0.006)
    assert (df[C.POST_ID] == generated[C.POST_ID]).all()
    assert sample_truth() == default_truth(SAMPLE_SEED)
    assert len(doc["posts"]) == 400


def test_sample_regeneration_is_byte_identical(tmp_path) -> None:
    from amplify.data.sample import sample_path, sample_truth_path, write_sample

    csv_path, json_path = write_sample(tmp_path)
    assert csv_path.read_bytes() == sample_path().read_bytes()
    assert json_path.read_bytes() == sample_truth_path().read_bytes()


def test_load_sample_regenerates_a_missing_file(tmp_path, monkeypatch) -> None:
    from amplify.data import sample

    monkeypatch.setattr(sample, "_data_dir", lambda: tmp_path / "data")  # an install without data/
    regenerated = sample.load_sample()
    assert (tmp_path / "data" / "sample_posts.csv").exists()
    assert (tmp_path / "data" / "sample_truth.json").exists()
    monkeypatch.undo()
    pd.testing.assert_frame_equal(regenerated, sample.load_sample())
