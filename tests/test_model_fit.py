"""BoostModel end to end with real NUTS on small simulated data (fitted once per module).

What a fitted model must do: converge, explain its data, produce curves / rankings / what-ifs that
respond
to their inputs, report the organic→paid effect, save and load (refusing corrupt or foreign files),
fit
tables without organic columns, run the fast approximate mode labelled as such, and have priors
that land
on real-platform scales.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplify import constants as C
from amplify.curves import ResponseCurves
from amplify.model import BoostModel, Diagnostics, NotFittedError, Priors, SamplerConfig
from amplify.persistence import ModelFileError
from amplify.simulate import World, default_truth

pytestmark = pytest.mark.slow

SMALL = SamplerConfig(draws=300, tune=300, chains=2, seed=1)


@pytest.fixture(scope="module")
def world() -> World:
    return World(default_truth(11), seed=11)


@pytest.fixture(scope="module")
def posts(world: World) -> pd.DataFrame:
    # some rows lack organic data (exports without it): they still feed the paid stages
    return world.posts(300, organic_missing_share=0.15)


@pytest.fixture(scope="module")
def model(posts: pd.DataFrame) -> BoostModel:
    stages: list[tuple[str, float]] = []
    m = BoostModel(sampler=SMALL).fit(posts, progress=lambda s, f: stages.append((s, f)))
    m.test_progress = stages  # type: ignore[attr-defined]
    return m


def test_fit_returns_self_and_learned_state(model: BoostModel, posts: pd.DataFrame) -> None:
    assert isinstance(model, BoostModel)
    assert model.platforms_ == (C.FACEBOOK, C.INSTAGRAM, C.TIKTOK)
    assert model.segments_ == ("audience",)
    assert model.priors is None
    assert isinstance(model.priors_, Priors)
    assert model.sampler_ == SMALL
    post = model.idata_["posterior"]
    assert post.sizes["chain"] == 2
    assert post.sizes["draw"] == 300
    for name in ("cpm", "k", "ctr", "cvr", "view_through", "organic_effect", "conv_alpha", "value"):
        assert post[name].dims == ("chain", "draw", C.PLATFORM)
    fractions = [f for _, f in model.test_progress]  # type: ignore[attr-defined]
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)


def test_converges_and_explains_its_data(model: BoostModel) -> None:
    d = model.diagnostics_
    assert isinstance(d, Diagnostics)
    # a short run on 300 posts may show a stray divergence; it must then be reported
    assert d.divergences <= 2
    assert (d.divergences > 0) == any("divergent" in w for w in d.warnings)
    # 2 x 300 draws: r_hat of the worst of ~70 parameters wanders above 1.02 by chance (1.024 and
    # 1.026 seen with and without shares); 1.05 still catches chains that disagree
    assert d.max_rhat < 1.05
    assert d.min_ess_bulk > 150  # 600 draws in all
    assert not d.approximate
    for key in ("coverage_90_conversions", "coverage_90_clicks", "coverage_90_paid_impressions"):
        assert 0.8 <= d.ppc[key] <= 0.99, key
    for p in model.platforms_:
        assert 0.01 < d.ppc[f"p_total_conversions_{p}"] < 0.99
    json.dumps(d.to_dict())  # JSON-able for the CLI


def test_bad_convergence_is_reported_in_plain_language() -> None:
    from amplify.model.diagnostics import assess

    d = assess(
        max_rhat=1.08,
        min_ess_bulk=35.0,
        min_ess_tail=50.0,
        divergences=3,
        approximate=False,
        ppc={"coverage_90_conversions": 0.5, "p_total_conversions_tiktok": 0.001},
        method="nuts",
        n_chains=2,
        n_draws=100,
        fit_seconds=1.0,
    )
    assert not d.ok
    text = " ".join(d.warnings)
    for phrase in ("r_hat 1.080", "bulk ESS 35", "3 divergent", "conversions poorly", "on tiktok"):
        assert phrase in text


def test_platform_curves(model: BoostModel, world: World) -> None:
    c = model.platform_curves(max_draws=200)
    assert isinstance(c, ResponseCurves)
    assert c.arms == model.platforms_
    assert c.n_draws == 200
    assert c.value is not None
    assert c.max_observed_spend is not None
    truth = world.true_platform_curves()
    # the posterior of beta brackets the truth loosely (300 posts); the ordering of platforms holds
    lo, hi = np.quantile(c.beta, [0.01, 0.99], axis=0)
    assert np.all(lo < truth.beta[0] * 1.25)
    assert np.all(hi > truth.beta[0] * 0.8)
    c4 = model.platform_curves(n_boosts=4, max_draws=200)
    np.testing.assert_allclose(c4.k, 4 * c.k)
    np.testing.assert_allclose(c4.beta, c.beta)


def test_post_curves_and_ranking(model: BoostModel, posts: pd.DataFrame) -> None:
    curves = model.post_curves(max_draws=300)
    candidates = posts.loc[~posts[C.BOOSTED]]
    assert curves.n_arms == len(candidates)
    assert curves.arms[0] == f"{candidates[C.PLATFORM].iloc[0]}:{candidates[C.POST_ID].iloc[0]}"
    ranked = model.rank_candidates(max_draws=300)
    assert list(ranked.columns) == [
        C.POST_ID,
        C.PLATFORM,
        "conv_per_100_mean",
        "conv_per_100_lo",
        "conv_per_100_hi",
        "prob_top_decile",
        "rank",
    ]
    assert ranked["conv_per_100_mean"].is_monotonic_decreasing
    assert np.all(ranked["conv_per_100_lo"] <= ranked["conv_per_100_hi"])
    assert ranked["prob_top_decile"].between(0, 1).all()
    # a post that resonates organically ranks above the same post with few engagements
    one = candidates.loc[candidates[C.PLATFORM] == C.INSTAGRAM].head(1)
    hot, cold = one.copy(), one.copy()
    hot[C.POST_ID], cold[C.POST_ID] = "hot", "cold"
    hot[C.ORGANIC_ENGAGEMENTS] = hot[C.ORGANIC_IMPRESSIONS] * 0.15
    cold[C.ORGANIC_ENGAGEMENTS] = cold[C.ORGANIC_IMPRESSIONS] * 0.005
    r = model.rank_candidates(pd.concat([hot, cold]), max_draws=300)
    assert r[C.POST_ID].tolist() == ["hot", "cold"]


def test_what_if_changes_predictions(model: BoostModel, posts: pd.DataFrame) -> None:
    boosted = posts.loc[posts[C.BOOSTED]].head(40).copy()
    base = model.predict(boosted, seed=3)
    doubled = boosted.assign(**{C.SPEND: boosted[C.SPEND] * 2})
    what_if = model.predict(doubled, seed=3)
    b = base["expected_conversions"].mean("sample").values
    w = what_if["expected_conversions"].mean("sample").values
    assert np.all(w > b)  # more spend, more conversions on every post
    assert np.mean(w / b) > 1.3
    assert np.all(w < b * 2.0)  # but diminishing returns
    assert what_if["conversions"].sum() > base["conversions"].sum()
    assert float((what_if["cpa"] - base["cpa"]).mean()) > 0  # average CPA rises with spend
    assert "roas" in what_if
    zero = model.predict(boosted.assign(**{C.SPEND: 0.0}))
    assert float(zero["conversions"].sum()) == 0.0
    # the paid outcome columns of the rows are not used to predict them
    scrambled = boosted.assign(**{C.CLICKS: 0.0, C.CONVERSIONS: 999.0})
    again = model.predict(scrambled, seed=3)
    np.testing.assert_array_equal(again["conversions"].values, base["conversions"].values)


def test_organic_effect_table(model: BoostModel, world: World) -> None:
    eff = model.organic_effect()
    assert eff[C.PLATFORM].tolist() == list(model.platforms_)
    assert np.all(eff["lo90"] < eff["effect_mean"])
    assert np.all(eff["effect_mean"] < eff["hi90"])
    assert eff["prob_positive"].between(0, 1).all()
    # the truth is clearly positive on every platform: the model sees a positive effect somewhere
    assert eff["prob_positive"].max() > 0.95
    s = model.summary()
    assert {"cpm", "ctr", "cvr", "organic_effect"} <= set(s["parameter"])


def test_save_load_round_trip(model: BoostModel, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "fit")
    assert (folder / "config.json").is_file()
    assert (folder / "posterior.nc").is_file()
    assert not list(folder.glob("*.pkl"))
    loaded = BoostModel.load(folder)
    assert loaded.platforms_ == model.platforms_
    assert loaded.priors_ == model.priors_
    assert loaded.sampler_ == model.sampler_
    assert loaded.diagnostics_ == model.diagnostics_
    a = model.platform_curves(max_draws=100, seed=5)
    b = loaded.platform_curves(max_draws=100, seed=5)
    np.testing.assert_allclose(a.beta, b.beta)
    np.testing.assert_allclose(a.k, b.k)
    pd.testing.assert_frame_equal(model.organic_effect(), loaded.organic_effect())
    ra = model.rank_candidates(max_draws=100)
    rb = loaded.rank_candidates(max_draws=100)
    pd.testing.assert_frame_equal(ra, rb)


def test_load_refuses_corrupt_and_foreign_files(model: BoostModel, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "fit")
    cfg = json.loads((folder / "config.json").read_text())

    (folder / "config.json").write_text(json.dumps(cfg | {"schema_version": 99}))
    with pytest.raises(ModelFileError, match="schema version 99"):
        BoostModel.load(folder)
    (folder / "config.json").write_text(json.dumps(cfg))

    data = (folder / "posterior.nc").read_bytes()
    (folder / "posterior.nc").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt"):
        BoostModel.load(folder)

    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="corrupt config"):
        BoostModel.load(folder)
    with pytest.raises(ModelFileError, match="not a saved model folder"):
        BoostModel.load(tmp_path / "nothing-here")


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        BoostModel().platform_curves()


def test_fit_without_organic_columns(world: World) -> None:
    posts = world.posts(400).drop(columns=list(C.ORGANIC_COLUMNS))
    m = BoostModel(sampler=SamplerConfig(draws=300, tune=500, seed=2)).fit(posts)
    assert not m.organic_used_
    assert m.diagnostics_.divergences <= 2
    assert m.diagnostics_.max_rhat < 1.05
    assert any("no organic data" in w for w in m.diagnostics_.warnings)
    assert m.organic_effect()["effect_mean"].isna().all()
    assert m.platform_curves(max_draws=50).n_arms == 3
    boosted = posts.loc[posts[C.BOOSTED]].head(5)
    assert float(m.predict(boosted)["conversions"].mean()) > 0


def test_approximate_mode_is_labelled(posts: pd.DataFrame) -> None:
    m = BoostModel(
        sampler=SamplerConfig(method="advi", advi_iterations=1500, draws=200, seed=0)
    ).fit(posts)
    d = m.diagnostics_
    assert d.approximate
    assert d.method == "advi"
    assert "approximate" in d.warnings[0]
    assert np.isnan(d.max_rhat)
    assert m.platform_curves(max_draws=100).meta["approximate"] is True
    assert np.all(np.isfinite(m.platform_curves(max_draws=100).beta))


def test_pymc_nuts_fallback_runs(posts: pd.DataFrame) -> None:
    cfg = SamplerConfig(nuts_sampler="pymc", draws=60, tune=60, chains=1, seed=0)
    m = BoostModel(sampler=cfg).fit(posts.head(150))
    assert m.diagnostics_.method == "nuts (pymc)"
    assert m.idata_["posterior"].sizes["draw"] == 60
    assert np.all(np.isfinite(m.platform_curves(max_draws=30).beta))


def test_prior_predictive_lands_on_platform_scales(posts: pd.DataFrame) -> None:
    prior = BoostModel().prior_predictive(posts, n_draws=400, seed=0)
    med = prior.median(numeric_only=True)
    assert 4 < med["cpm"] < 15  # currency per 1000 impressions
    assert 0.004 < med["ctr"] < 0.025
    assert 0.01 < med["cvr"] < 0.08
    assert 1e-5 < med["view_through"] < 2e-4
    # weakly informative, not dogmatic: the prior spans a few-fold range
    q = prior["cpm"].quantile([0.05, 0.95])
    assert q.iloc[1] / q.iloc[0] > 3
