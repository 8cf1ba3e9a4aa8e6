"""Posterior draws -> named parameters, curves, rankings, predictive draws, log likelihoods.

Everything here is numpy on the posterior (no PyMC): the model's latent resonance ``r`` and CTR
noise ``u``
were integrated out when fitting, and their conditional distributions given a post's data are
exactly
normal, so a candidate post's paid CTR is drawn after sampling: for each posterior draw, ``r |
organic`` by
the same Kalman steps as the likelihood, then the CTR logit ``ctr + segments + beta * r + u``
(updated by the
post's own paid clicks when it was boosted before).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray
from scipy.special import expit, gammaln, logsumexp

from amplify import constants as C
from amplify.curves import mm_conversions
from amplify.model.features import Features, Levels
from amplify.model.priors import Priors, coef_names, noise_names, pooled_names
from amplify.model.transforms import (
    curve_beta,
    expected_ctr,
    log_median_impressions,
    normal_logp_terms,
    resonance_update,
)

FloatArray = NDArray[np.float64]

#: Likelihood stages, in the order of :func:`pointwise_loglik`.
STAGES: tuple[str, ...] = (
    "impressions",
    "reach",
    "organic",
    "shares",
    "ctr",
    "conversions",
    "value",
)
#: Stages describing what a boost yields (used for held-out predictive density).
PAID_STAGES: tuple[str, ...] = ("impressions", "ctr", "conversions")


def named_parameters(post: xr.Dataset, priors: Priors) -> dict[str, xr.DataArray]:
    """Natural-scale, per-platform parameters from the model's stacked blocks.

    Returns
    -------
    dict
        ``cpm, k, ctr, cvr, view_through, conv_alpha, impr_sigma, ctr_sigma, value, value_sigma``
        (and, with
        organic signals, ``organic_effect, organic_effect_per_er, er, resonance_er, share_rate,
        shares_loading``) plus their log/logit-scale versions used in the model, each with dims
        ``(chain, draw, platform)``.
    """
    out: dict[str, Any] = {}
    pooled = post["pooled"]
    for name in pooled_names(priors):
        out[name] = pooled.sel(pooled_param=name, drop=True)
    coef = post["platform_coef"]
    for name in coef_names(priors):
        out[name] = coef.sel(coef_param=name, drop=True)
    noise = post["noise"]
    for name in noise_names(priors):
        out[name] = noise.sel(noise_param=name, drop=True)
    out["cpm"] = np.exp(out["log_cpm"])
    out["k"] = np.exp(out["log_k"])
    out["ctr"] = expit(out["ctr_logit"])
    out["cvr"] = expit(out["cvr_logit"])
    out["view_through"] = np.exp(out["log_view_through"])
    out["conv_alpha"] = np.exp(-2.0 * out["log_inv_sqrt_alpha"])
    out["value"] = np.exp(out["value_log"] + 0.5 * out["value_sigma"] ** 2)
    if priors.use_organic:
        out["resonance_er"] = np.exp(out["log_resonance_er"])
        out["er"] = expit(out["er_logit"])
        out["organic_effect_per_er"] = out["organic_effect"] / out["resonance_er"]
        if priors.use_shares is True:
            out["share_rate"] = expit(out["share_logit"])
    return out


@dataclass(frozen=True)
class Draws:
    """Flattened posterior draws (``S`` samples) of everything prediction needs.

    ``params`` maps a parameter name to ``(S, n_platforms)``; ``format_effect`` is ``(S,
    n_formats)`` (zeros
    without organic signals); ``segments`` maps a segment column to ``(S, n_levels)``.
    """

    params: dict[str, FloatArray]
    format_effect: FloatArray
    segments: dict[str, FloatArray]
    organic: bool
    shares: bool

    @property
    def n_draws(self) -> int:
        """Number of draws ``S``."""
        return int(self.params["log_cpm"].shape[0])


def draws_from_posterior(
    post: xr.Dataset,
    levels: Levels,
    priors: Priors,
    *,
    max_draws: int | None = None,
    seed: int = 0,
) -> Draws:
    """Flatten (and optionally thin, at random without replacement) the posterior draws."""
    n_total = int(post.sizes["chain"]) * int(post.sizes["draw"])
    if max_draws is not None and max_draws < n_total:
        take = np.sort(np.random.default_rng(seed).choice(n_total, size=max_draws, replace=False))
    else:
        take = np.arange(n_total)

    def flat(da: xr.DataArray) -> FloatArray:
        arr = np.asarray(da.transpose("chain", "draw", ...).values, dtype=float)
        return arr.reshape(n_total, *arr.shape[2:])[take]

    named = named_parameters(post, priors)
    params = {k: flat(v.transpose("chain", "draw", C.DIM_PLATFORM)) for k, v in named.items()}
    n_s = len(take)
    fe = (
        flat(post["format_effect"])
        if "format_effect" in post
        else np.zeros((n_s, max(len(levels.formats), 1)))
    )
    segs = {}
    for col, lv in levels.segments.items():
        name = f"segment_effect_{col}"
        segs[col] = flat(post[name]) if name in post else np.zeros((n_s, len(lv)))
    return Draws(
        params=params,
        format_effect=fe,
        segments=segs,
        organic=priors.use_organic,
        shares=priors.use_organic and priors.use_shares is True,
    )


# --- latent beliefs per post
# ------------------------------------------------------------------------
def _check_platforms(feat: Features) -> None:
    if np.any(feat.platform < 0):
        bad = feat.post_id[np.flatnonzero(feat.platform < 0)[:5]]
        raise ValueError(
            f"posts {list(bad)} are on a platform the model was not fitted on; refit with them"
        )


def resonance_belief(d: Draws, feat: Features) -> tuple[FloatArray, FloatArray]:
    """Mean and variance ``(S, n)`` of each post's resonance given its organic data."""
    _check_platforms(feat)
    p = feat.platform
    fmt = feat.format
    mean = np.where(fmt >= 0, d.format_effect[:, np.maximum(fmt, 0)], 0.0)
    var = np.ones_like(mean)
    if d.organic:
        sn = d.params["reach_sigma"][:, p]
        _, _, mean, var = resonance_update(
            mean,
            var,
            feat.y_n,
            sn * sn,
            d.params["reach_log"][:, p],
            d.params["reach_loading"][:, p],
            feat.has_n,
        )
        _, _, mean, var = resonance_update(
            mean,
            var,
            feat.y_o,
            feat.v_o,
            d.params["er_logit"][:, p],
            d.params["resonance_er"][:, p],
            feat.has_o,
        )
        if d.shares:
            _, _, mean, var = resonance_update(
                mean,
                var,
                feat.y_s,
                feat.v_s,
                d.params["share_logit"][:, p],
                d.params["shares_loading"][:, p],
                feat.has_s,
            )
    return mean, var


def _segment_shift(d: Draws, feat: Features) -> FloatArray:
    shift = np.zeros((d.n_draws, feat.n))
    for col, eff in d.segments.items():
        codes = feat.segment.get(col)
        if codes is None:
            continue
        shift += np.where(codes >= 0, eff[:, np.maximum(codes, 0)], 0.0)
    return shift


def ctr_belief(d: Draws, feat: Features, *, use_paid: bool) -> tuple[FloatArray, FloatArray]:
    """Mean and variance ``(S, n)`` of each post's paid-CTR logit.

    From its organic data (and, with ``use_paid``, updated by its own observed clicks when it was
    boosted).
    """
    p = feat.platform
    mean = d.params["ctr_logit"][:, p] + _segment_shift(d, feat)
    sig = d.params["ctr_sigma"][:, p]
    var = sig * sig
    if d.organic:
        r_mean, r_var = resonance_belief(d, feat)
        b = d.params["organic_effect"][:, p]
        mean = mean + b * r_mean
        var = var + b * b * r_var
    else:
        _check_platforms(feat)
    if use_paid and feat.idx_c.size:
        i = feat.idx_c
        prec = 1.0 / var[:, i] + 1.0 / feat.v_c[i]
        mean[:, i] = (mean[:, i] / var[:, i] + feat.y_c[i] / feat.v_c[i]) / prec
        var[:, i] = 1.0 / prec
    return mean, var


# --- curves
# -----------------------------------------------------------------------------------------
def post_curve_draws(
    d: Draws, feat: Features, rng: np.random.Generator, *, use_paid: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``beta, k, value`` draws ``(S, n)`` for each post (its own CTR drawn from its belief)."""
    mean, var = ctr_belief(d, feat, use_paid=use_paid)
    ctr = expit(mean + np.sqrt(var) * rng.standard_normal(mean.shape))
    p = feat.platform
    par = d.params
    beta = curve_beta(
        par["cpm"][:, p], ctr, par["cvr"][:, p], par["view_through"][:, p], par["impr_sigma"][:, p]
    )
    return beta, par["k"][:, p], par["value"][:, p]


def platform_curve_draws(
    d: Draws, levels: Levels, n_boosts: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``beta, k, value`` draws ``(S, n_platforms)`` for a typical post on each platform.

    Typical post: resonance at the format average (0), paid CTR averaged over the post-level noise
    and over
    the segment levels (equally weighted); ``k`` multiplied by ``n_boosts`` (spend spread over that
    many
    boosts saturates later).
    """
    par = d.params
    base = par["ctr_logit"]
    shifts = [np.zeros((d.n_draws, 1))]
    for eff in d.segments.values():
        shifts = [s + eff[:, [j]] for s in shifts for j in range(eff.shape[1])]
    ctr = np.mean([expected_ctr(base + s, par["ctr_sigma"]) for s in shifts], axis=0)
    beta = curve_beta(par["cpm"], ctr, par["cvr"], par["view_through"], par["impr_sigma"])
    return beta, par["k"] * n_boosts[None, :], par["value"]


def rank_table(
    post_id: NDArray[np.object_],
    platform: tuple[str, ...],
    beta: FloatArray,
    k: FloatArray,
    *,
    spend: float,
) -> pd.DataFrame:
    """Candidates ranked by expected conversions per 100 of spend at ``spend`` on one boost."""
    conv = mm_conversions(spend, beta, k) * (100.0 / spend)
    n = conv.shape[1]
    if n >= 10:
        cut = np.quantile(conv, 0.9, axis=1, keepdims=True)
        top = (conv >= cut).mean(axis=0)
    else:
        top = (conv == conv.max(axis=1, keepdims=True)).mean(axis=0)
    df = pd.DataFrame(
        {
            C.POST_ID: post_id,
            C.PLATFORM: list(platform),
            "conv_per_100_mean": conv.mean(axis=0),
            "conv_per_100_lo": np.quantile(conv, 0.05, axis=0),
            "conv_per_100_hi": np.quantile(conv, 0.95, axis=0),
            "prob_top_decile": top,
        }
    )
    df = df.sort_values("conv_per_100_mean", ascending=False, kind="stable").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df


# --- predictive draws
# -------------------------------------------------------------------------------
def predictive_draws(
    d: Draws, feat: Features, spend: FloatArray, rng: np.random.Generator, *, use_paid: bool = False
) -> dict[str, FloatArray]:
    """Posterior predictive draws ``(S, n)`` of a boost of each post at ``spend``.

    Returns ``paid_impressions, clicks, conversions, revenue`` (counts drawn through the model's
    noise)
    and ``expected_conversions`` (the curve value, no count noise).
    """
    p = feat.platform
    par = d.params
    s = np.broadcast_to(np.asarray(spend, dtype=float), (feat.n,))
    mean, var = ctr_belief(d, feat, use_paid=use_paid)
    ctr = expit(mean + np.sqrt(var) * rng.standard_normal(mean.shape))
    k = par["k"][:, p]
    with np.errstate(divide="ignore"):
        log_med = log_median_impressions(np.maximum(s, 1e-300), par["log_cpm"][:, p], k)
    sig = par["impr_sigma"][:, p]
    impr_mean = np.where(s > 0, np.exp(log_med + 0.5 * sig * sig), 0.0)
    impr = np.where(s > 0, np.rint(np.exp(log_med + sig * rng.standard_normal(log_med.shape))), 0.0)
    clicks = rng.binomial(impr.astype(np.int64), ctr).astype(float)
    cvr, vt, alpha = par["cvr"][:, p], par["view_through"][:, p], par["conv_alpha"][:, p]
    mu = clicks * cvr + impr * vt
    lam = rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)
    conv = rng.poisson(lam).astype(float)
    value = np.exp(
        par["value_log"][:, p] + par["value_sigma"][:, p] * rng.standard_normal(mu.shape)
    )
    return {
        C.PAID_IMPRESSIONS: impr,
        C.CLICKS: clicks,
        C.CONVERSIONS: conv,
        C.REVENUE: conv * value,
        "expected_conversions": impr_mean * (ctr * cvr + vt),
    }


# --- log likelihood
# ---------------------------------------------------------------------------------
def pointwise_loglik(d: Draws, feat: Features) -> dict[str, FloatArray]:
    """Log likelihood ``(S, n)`` of each post, per stage (0 where a post has no data for a stage).

    The numpy reference of the model's fused kernel: summed over stages and posts it equals the
    kernel's
    log likelihood at the same parameters.
    """
    _check_platforms(feat)
    p = feat.platform
    par = d.params
    shape = (d.n_draws, feat.n)
    out = {name: np.zeros(shape) for name in STAGES}

    i = feat.idx_imp
    if i.size:
        pi = p[i]
        resid = np.log(feat.paid_impressions[i]) - log_median_impressions(
            feat.spend[i], par["log_cpm"][:, pi], par["k"][:, pi]
        )
        sig = par["impr_sigma"][:, pi]
        out["impressions"][:, i] = normal_logp_terms(resid, sig * sig)

    fe_mean = np.where(feat.format >= 0, d.format_effect[:, np.maximum(feat.format, 0)], 0.0)
    mean, var = fe_mean, np.ones(shape)
    if d.organic:
        sn = par["reach_sigma"][:, p]
        resid, pvar, mean, var = resonance_update(
            mean,
            var,
            feat.y_n,
            sn * sn,
            par["reach_log"][:, p],
            par["reach_loading"][:, p],
            feat.has_n,
        )
        out["reach"] = feat.has_n * normal_logp_terms(resid, pvar)
        resid, pvar, mean, var = resonance_update(
            mean,
            var,
            feat.y_o,
            feat.v_o,
            par["er_logit"][:, p],
            par["resonance_er"][:, p],
            feat.has_o,
        )
        out["organic"] = feat.has_o * normal_logp_terms(resid, pvar)
        if d.shares:
            resid, pvar, mean, var = resonance_update(
                mean,
                var,
                feat.y_s,
                feat.v_s,
                par["share_logit"][:, p],
                par["shares_loading"][:, p],
                feat.has_s,
            )
            out["shares"] = feat.has_s * normal_logp_terms(resid, pvar)

    i = feat.idx_c
    if i.size:
        pi = p[i]
        eta = par["ctr_logit"][:, pi] + _segment_shift(d, feat)[:, i]
        sig = par["ctr_sigma"][:, pi]
        v = sig * sig + feat.v_c[i]
        if d.organic:
            b = par["organic_effect"][:, pi]
            eta = eta + b * mean[:, i]
            v = v + b * b * var[:, i]
        out["ctr"][:, i] = normal_logp_terms(feat.y_c[i] - eta, v)

    i = feat.idx_conv
    if i.size:
        pi = p[i]
        y = feat.conversions[i]
        a = par["conv_alpha"][:, pi]
        mu = (
            feat.clicks[i] * par["cvr"][:, pi]
            + feat.paid_impressions[i] * par["view_through"][:, pi]
        )
        out["conversions"][:, i] = (
            gammaln(y + a)
            - gammaln(a)
            - gammaln(y + 1.0)
            + y * np.log(mu)
            - (a + y) * np.log1p(mu / a)
            - y * np.log(a)
        )

    i = feat.idx_rev
    if i.size:
        pi = p[i]
        resid = np.log(feat.revenue[i] / feat.conversions[i]) - par["value_log"][:, pi]
        sig = par["value_sigma"][:, pi]
        out["value"][:, i] = normal_logp_terms(resid, sig * sig)
    return out


def lpd(loglik: FloatArray) -> FloatArray:
    """Log pointwise predictive density ``log mean_s exp(loglik[s, i])`` per post."""
    return np.asarray(logsumexp(loglik, axis=0) - np.log(loglik.shape[0]), dtype=float)
