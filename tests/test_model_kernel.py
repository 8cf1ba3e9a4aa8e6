"""The boost model's math without sampling: the fused likelihood kernel, features, priors,
calibration tools.

The kernel is checked against the numpy reference (:func:`amplify.model.predict.pointwise_loglik`)
and its
gradient against finite differences, at random parameters on a small simulated table covering every
stage
(reach, organic, shares, CTR with segments, impressions, conversions, revenue, missing organic
rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln

from amplify import constants as C
from amplify.errors import DataError
from amplify.model import Priors, SamplerConfig
from amplify.model.build import active_segments, data_arrays
from amplify.model.diagnostics import pit_coverage
from amplify.model.features import Features, Levels, learn_levels, make_features
from amplify.model.likelihood import THETA_ROWS, boost_loglik
from amplify.model.predict import Draws, pointwise_loglik
from amplify.model.transforms import (
    binomial_logit_moments,
    count_table,
    empirical_logit,
    resonance_update,
)
from amplify.simulate import World, default_truth


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    posts = World(default_truth(3), seed=3).posts(120, organic_missing_share=0.2)
    return posts


def _random_params(
    rng: np.random.Generator, n_p: int, n_f: int, n_seg: int
) -> dict[str, np.ndarray]:
    th = {
        "log_cpm": rng.normal(2.1, 0.2, n_p),
        "k": rng.uniform(80, 300, n_p),
        "impr_sigma": rng.uniform(0.2, 0.4, n_p),
        "er_logit": rng.normal(-4, 0.3, n_p),
        "resonance_er": rng.uniform(0.3, 0.7, n_p),
        "share_logit": rng.normal(-2, 0.3, n_p),
        "shares_loading": rng.normal(0, 0.2, n_p),
        "ctr_logit": rng.normal(-5, 0.3, n_p),
        "ctr_sigma": rng.uniform(0.2, 0.4, n_p),
        "organic_effect": rng.normal(0.4, 0.2, n_p),
        "cvr": rng.uniform(0.02, 0.05, n_p),
        "view_through": rng.uniform(1e-5, 8e-5, n_p),
        "conv_alpha": rng.uniform(3, 30, n_p),
        "value_log": rng.normal(3.8, 0.2, n_p),
        "value_sigma": rng.uniform(0.15, 0.3, n_p),
        "reach_log": rng.normal(8, 0.3, n_p),
        "reach_loading": rng.normal(0.3, 0.1, n_p),
        "reach_sigma": rng.uniform(0.6, 1.0, n_p),
    }
    return th | {"fe": rng.normal(0, 0.3, n_f), "seg": rng.normal(0, 0.2, n_seg)}


Kernel = tuple[Levels, Features, dict[str, np.ndarray], np.ndarray, Callable[..., Any]]


def _kernel(table: pd.DataFrame, organic: bool, shares: bool, seed: int = 0) -> Kernel:
    levels = learn_levels(table, ("audience",))
    feat = make_features(table, levels)
    arrays = data_arrays(feat, levels, log_k_center=5.0)
    n_seg = sum(len(levels.segments[c]) for c in active_segments(levels))
    par = _random_params(
        np.random.default_rng(seed), len(levels.platforms), len(levels.formats), n_seg
    )
    theta = np.stack([par[name] for name in THETA_ROWS])

    def run(theta: np.ndarray, fe: np.ndarray, seg: np.ndarray) -> Any:
        return boost_loglik(
            theta,
            fe,
            seg,
            arrays["rows"],
            arrays["idx"],
            arrays["conv_table"],
            float(arrays["ll_const"]),
            organic,
            shares,
        )

    return levels, feat, par, theta, run


@pytest.mark.parametrize(("organic", "shares"), [(True, True), (True, False), (False, False)])
def test_kernel_gradient_matches_finite_differences(table, organic, shares) -> None:
    _, _, par, theta, run = _kernel(table, organic, shares)
    fe, seg = par["fe"], par["seg"]
    ll, g_theta, g_fe, g_seg = run(theta, fe, seg)
    assert np.isfinite(ll)
    eps = 1e-6
    rng = np.random.default_rng(1)
    for _ in range(25):
        r, c = rng.integers(theta.shape[0]), rng.integers(theta.shape[1])
        t1, t0 = theta.copy(), theta.copy()
        h = eps * max(1.0, abs(theta[r, c]))
        t1[r, c] += h
        t0[r, c] -= h
        fd = (run(t1, fe, seg)[0] - run(t0, fe, seg)[0]) / (2 * h)
        assert g_theta[r, c] == pytest.approx(fd, rel=1e-4, abs=1e-4), THETA_ROWS[r]
    for vec, grad, name in ((fe, g_fe, "fe"), (seg, g_seg, "seg")):
        for j in range(len(vec)):
            v1, v0 = vec.copy(), vec.copy()
            v1[j] += eps
            v0[j] -= eps
            args1 = (theta, v1, seg) if name == "fe" else (theta, fe, v1)
            args0 = (theta, v0, seg) if name == "fe" else (theta, fe, v0)
            fd = (run(*args1)[0] - run(*args0)[0]) / (2 * eps)
            assert grad[j] == pytest.approx(fd, rel=1e-4, abs=1e-4), name
    if not organic:
        assert np.all(g_fe == 0)


@pytest.mark.parametrize(("organic", "shares"), [(True, True), (False, False)])
def test_kernel_equals_numpy_reference(table, organic, shares) -> None:
    levels, feat, par, theta, run = _kernel(table, organic, shares, seed=4)
    ll = run(theta, par["fe"], par["seg"])[0]
    params = {k: v[None, :] for k, v in par.items() if k not in ("fe", "seg")}
    params["cpm"] = np.exp(params["log_cpm"])
    segs, offset = {}, 0
    for col in active_segments(levels):
        n = len(levels.segments[col])
        segs[col] = par["seg"][None, offset : offset + n]
        offset += n
    d = Draws(
        params=params,
        format_effect=par["fe"][None, :] if organic else np.zeros((1, len(levels.formats))),
        segments=segs,
        organic=organic,
        shares=shares,
    )
    parts = pointwise_loglik(d, feat)
    assert sum(float(v.sum()) for v in parts.values()) == pytest.approx(ll, rel=1e-9)
    assert parts["conversions"].sum() < 0
    if organic:
        assert (parts["reach"] != 0).sum() == int(feat.has_n.sum())


def test_count_table_reproduces_lgamma_sums() -> None:
    rng = np.random.default_rng(0)
    y = rng.poisson(3, 200)
    g = rng.integers(0, 3, 200)
    table = count_table(y, g, 3)
    for a in (0.7, 5.0, 80.0):
        for p in range(3):
            direct = np.sum(gammaln(y[g == p] + a) - gammaln(a))
            via = np.sum(table[p] * np.log(a + np.arange(table.shape[1])))
            assert via == pytest.approx(direct, rel=1e-10)


def test_empirical_logit_and_resonance_update() -> None:
    y, v = empirical_logit(np.array([10.0]), np.array([1000.0]))
    assert y[0] == pytest.approx(np.log(10.5 / 990.5))
    assert v[0] == pytest.approx(1 / 10.5 + 1 / 990.5)
    # one Kalman step equals the textbook conditional normal
    resid, pvar, mean, var = resonance_update(0.2, 1.0, 1.0, 0.5, 0.1, 2.0)
    assert pvar == pytest.approx(4.0 + 0.5)
    assert mean == pytest.approx(0.2 + 2.0 * (1.0 - 0.1 - 0.4) / 4.5)
    assert var == pytest.approx(1.0 - 4.0 / 4.5)
    assert resid == pytest.approx(0.5)
    # an unobserved indicator leaves the belief alone
    _, _, m2, v2 = resonance_update(0.2, 1.0, 1.0, 0.5, 0.1, 2.0, mask=0.0)
    assert (m2, v2) == (0.2, 1.0)


def test_shares_logit_is_unbiased_at_small_counts() -> None:
    # exact moments equal brute force over the binomial, also for tiny counts
    for n, p in [(3, 0.1), (10, 0.12), (400, 0.05)]:
        e = np.arange(n + 1)
        w = np.exp(
            gammaln(n + 1)
            - gammaln(e + 1)
            - gammaln(n - e + 1)
            + e * np.log(p)
            + (n - e) * np.log1p(-p)
        )
        y = np.log((e + 0.5) / (n - e + 0.5))
        m, v = binomial_logit_moments(n, p)
        assert m == pytest.approx(np.sum(w * y), abs=1e-9)
        assert v == pytest.approx(np.sum(w * (y - np.sum(w * y)) ** 2), abs=1e-9)
    # fractional engagement counts (edited or averaged exports) are rounded, not NaN
    assert np.isfinite(binomial_logit_moments([40.5, 10.2], 0.1)).all()
    # posts with few shares: the observed-count weighting is biased upwards (the reason for the
    # correction), the corrected indicator is not (inverse-variance mean within 3 standard errors)
    rng = np.random.default_rng(0)
    rate, eng = 0.1, rng.integers(5, 60, size=20_000)
    shares = rng.binomial(eng, rate)
    y_raw, v_raw = empirical_logit(shares, eng)
    biased = np.sum(y_raw / v_raw) / np.sum(1 / v_raw)
    assert biased - np.log(rate / (1 - rate)) > 0.05
    posts = World(default_truth(0), seed=0).posts(20)
    posts = pd.concat([posts.iloc[:1]] * eng.size, ignore_index=True)
    posts[C.POST_ID] = np.arange(eng.size).astype(str)
    posts[C.ORGANIC_IMPRESSIONS] = 10 * eng
    posts[C.ORGANIC_ENGAGEMENTS] = eng
    posts[C.ORGANIC_SHARES] = shares
    feat = make_features(posts, learn_levels(posts, ()))
    w = 1 / feat.v_s
    est, se = np.sum(w * feat.y_s) / np.sum(w), np.sum(w) ** -0.5
    assert abs(est - np.log(rate / (1 - rate))) < 3 * se


def test_pit_coverage_is_exact_for_calibrated_counts() -> None:
    rng = np.random.default_rng(0)
    mu = rng.uniform(0.2, 3.0, 4000)
    y = rng.poisson(mu)
    draws = rng.poisson(mu, size=(4000, mu.size))
    exact = pit_coverage(draws, y).mean()
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    inclusive = np.mean((y >= lo) & (y <= hi))
    assert exact == pytest.approx(0.9, abs=0.015)
    assert inclusive > 0.95  # why the exact version is needed for small counts


def test_priors_and_sampler_are_strict_with_hints() -> None:
    with pytest.raises(ValueError, match="did you mean 'cpm_median'"):
        Priors(cpm_medain=9.0)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="did you mean 'draws'"):
        SamplerConfig(drawz=10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="less than 1"):
        Priors(ctr_median=1.5)
    p = Priors(cpm_median=12.0)
    assert p.cpm_median == 12.0
    assert Priors.model_validate(p.model_dump()) == p


def test_bad_post_table_names_row_and_column(table) -> None:
    levels = learn_levels(table, ("audience",))
    bad = table.copy()
    row = bad.index[bad[C.BOOSTED]][0]
    bad.loc[row, C.CLICKS] = bad.loc[row, C.PAID_IMPRESSIONS] + 5
    bad.loc[bad.index[2], C.SPEND] = -1.0
    with pytest.raises(DataError) as err:
        make_features(bad, levels, source="posts.csv")
    text = str(err.value)
    assert "posts.csv" in text
    assert f"row {row}" in text
    assert "column 'clicks'" in text
    assert "column 'spend'" in text
    with pytest.raises(DataError, match="column 'platform' is missing"):
        learn_levels(table.drop(columns=[C.PLATFORM]), ())


def test_features_handle_aliases_missing_organic_and_unknown_levels(table) -> None:
    levels = learn_levels(table, ("audience",))
    new = table.head(5).copy()
    new[C.PLATFORM] = ["FB", "Insta", "TikTok", "ig", "meta"]
    new[C.FORMAT] = "hologram"
    new["audience"] = "martians"
    new[C.ORGANIC_IMPRESSIONS] = 5000.0
    new[C.ORGANIC_ENGAGEMENTS] = np.nan
    feat = make_features(new, levels)
    assert [levels.platforms[p] for p in feat.platform] == [
        "facebook",
        "instagram",
        "tiktok",
        "instagram",
        "facebook",
    ]
    assert np.all(feat.format == -1)
    assert np.all(feat.segment["audience"] == -1)
    assert feat.has_o.sum() == 0
    assert feat.has_n.sum() == 5


@pytest.mark.parametrize(
    "priors",
    [Priors(use_shares=True), Priors(use_organic=False, use_shares=False)],
    ids=["organic+shares", "pooled-baseline"],
)
def test_fast_density_equals_pymc_model(table, priors: Priors) -> None:
    """nutpie samples fastlogp; it must be the PyMC model's density in PyMC's own coordinates."""
    from amplify.model.build import build_model
    from amplify.model.fastlogp import expand, fast_logp, initial_point, make_layout

    levels = learn_levels(table, ("audience",))
    feat = make_features(table, levels)
    model = build_model(feat, levels, priors, log_k_center=5.0)
    ref = model.logp_dlogp_function(ravel_inputs=True, mode="FAST_RUN")
    ref.set_extra_values({})
    layout = make_layout(levels, priors)
    a = data_arrays(feat, levels, log_k_center=5.0)
    offsets = []
    for seed in range(3):
        x = initial_point(layout, 5.0, seed)
        lp, grad = fast_logp(
            x,
            a["rows"],
            a["idx"],
            a["conv_table"],
            float(a["ll_const"]),
            5.0,
            layout.dims,
            layout.seg_sizes,
            layout.prior,
            layout.src,
            layout.organic,
            layout.shares,
        )
        lp_ref, grad_ref = ref(x)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-8)
        offsets.append(lp - lp_ref)
    assert np.ptp(offsets) < 1e-8  # equal up to the normalising constant
    # the named values match PyMC's own mapping of the same point
    point = model.initial_point()
    names = [v.name for v in model.value_vars]
    sizes = [int(np.prod(point[n].shape)) for n in names]
    flat = np.split(x, np.cumsum(sizes)[:-1])
    values = {n: v.reshape(point[n].shape) for n, v in zip(names, flat, strict=True)}
    outs = [v for v in model.unobserved_value_vars if not v.name.endswith("__")]
    constrained = model.compile_fn(outs, inputs=model.value_vars, point_fn=False)
    pm_values = dict(zip([v.name for v in outs], constrained(*values.values()), strict=True))
    mine = expand(x, layout)
    assert set(mine) == set(pm_values)
    for name, value in pm_values.items():
        np.testing.assert_allclose(mine[name], value, rtol=1e-10, err_msg=name)
