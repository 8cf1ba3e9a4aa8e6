"""The only place that builds the PyMC boost model.

Model (``p`` = platform of the post, rates on the logit scale, ``r`` the post's latent resonance)::

    r ~ N(m, 1),  m = format effect (ZeroSumNormal)
    reach:             log organic impressions = reach[p] + kappa[p] * r + N(0, reach_sigma[p]^2)
    organic ER:        y_o = er[p]    + tau[p] * r + eps      (eps: known sampling variance v_o)
    shares/engagement: y_s = share[p] + lam[p] * r + eps      (v_s: exact small-count variance)
    paid CTR:          y_c = ctr[p] + segments + beta[p] * r + u + eps,  u ~ N(0, ctr_sigma[p]^2)
    log paid impr.  ~ N(log(1000 s / cpm[p]) - log1p(s / k[p]), impr_sigma[p])
    conversions     ~ NegBin(mean = clicks * cvr[p] + paid_impr * view_through[p], alpha[p])
    log(revenue / conversions) ~ N(value_log[p], value_sigma[p])

``r`` and ``u`` are integrated out exactly (conditional normals), so the model has a few dozen
parameters whatever the number of posts, and no funnel between per-post latents and platform
intercepts. ``beta`` is the organic→paid effect (CTR logit per SD of resonance).

Parameters are declared in a few stacked blocks:

* ``pooled`` (``pooled_param`` x ``platform``): log CPM, log k, CTR logit, CVR logit, organic
  effect; each partially pooled around ``pooled_mu`` with between-platform sd ``pooled_sd``
  (boundary-avoiding LogNormal(log ``*_platform_sd``, 0.5): with three platforms the spread is
  barely identified, and a prior with mass near zero opens a funnel when the platforms are alike).
  Centered: each platform has many posts, so its data dominate the pooling prior.
* ``platform_coef`` (``coef_param`` x ``platform``): normal priors, independent per platform
  (organic ER intercept, log resonance loading, reach intercept and loading, shares intercept and
  loading, log view-through, log value per conversion, log of 1/sqrt(NegBin alpha)). View-through
  is weakly identified, so it is not pooled (a funnel otherwise).
* ``noise`` (``noise_param`` x ``platform``): HalfNormal noise sds of impressions, CTR, value,
  reach.
* ``format_effect`` and ``segment_effect_<col>``: ZeroSumNormal effects with boundary-avoiding
  LogNormal(log ``format_sd`` / ``segment_sd``, 0.5) scales: a few levels each, and a scale prior
  with mass near zero (the former Gamma(2)) opened a funnel in worlds whose levels were alike
  (divergent draws at scales of 0.01-0.05 in the recovery study).

The likelihood is one fused kernel (:mod:`amplify.model.likelihood`). nutpie samples the same
density written directly in numba (:mod:`amplify.model.fastlogp`, tested equal to this model's),
which avoids a 10-30 s compile per fit; PyMC's NUTS, ADVI and prior predictive draws use this
model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln, logit

from amplify import constants as C
from amplify.model.features import Features, Levels
from amplify.model.likelihood import ROW_FIELDS, THETA_ROWS, BoostLogLik
from amplify.model.priors import (
    SCALE_LOG_SD,
    Priors,
    coef_names,
    noise_names,
    pooled_names,
    prior_table,
)
from amplify.model.transforms import count_table

DIM_POOLED = "pooled_param"
DIM_COEF = "coef_param"
DIM_NOISE = "noise_param"
#: The free platform-level variables (convergence is checked on all of them).
PLATFORM_LEVEL_VARS: tuple[str, ...] = (
    "pooled",
    "pooled_mu",
    "pooled_sd",
    "platform_coef",
    "noise",
)


def segment_dim(col: str) -> str:
    """Dim name of a segment column's levels."""
    return f"{C.DIM_SEGMENT}_{col}"


def active_segments(levels: Levels) -> tuple[str, ...]:
    """Segment columns with at least two levels (the others carry no contrast)."""
    return tuple(c for c, lv in levels.segments.items() if len(lv) > 1)


def data_arrays(feat: Features, levels: Levels, *, log_k_center: float) -> dict[str, np.ndarray]:
    """The ``pm.Data`` arrays of the model for one post table (names match :func:`build_model`)."""
    n = feat.n
    rows = np.zeros((n, len(ROW_FIELDS)))
    col = {name: j for j, name in enumerate(ROW_FIELDS)}

    def put(name: str, idx: np.ndarray, values: np.ndarray | float) -> None:
        rows[idx, col[name]] = values

    everyone = np.arange(n)
    put("y_n", everyone, feat.y_n)
    put("has_n", everyone, feat.has_n)
    put("y_o", everyone, feat.y_o)
    put("v_o", everyone, feat.v_o)
    put("has_o", everyone, feat.has_o)
    put("y_s", everyone, feat.y_s)
    put("v_s", everyone, feat.v_s)
    put("has_s", everyone, feat.has_s)
    i_c, i_imp, i_conv, i_rev = feat.idx_c, feat.idx_imp, feat.idx_conv, feat.idx_rev
    put("is_c", i_c, 1.0)
    put("y_c", i_c, feat.y_c[i_c])
    put("v_c", i_c, feat.v_c[i_c])
    put("is_imp", i_imp, 1.0)
    put("spend", i_imp, feat.spend[i_imp])
    put("log_spend_1000", i_imp, np.log(1000.0 * feat.spend[i_imp]))
    put("log_impr", i_imp, np.log(feat.paid_impressions[i_imp]))
    put("is_conv", i_conv, 1.0)
    put("clicks", i_conv, feat.clicks[i_conv])
    put("impr", i_conv, feat.paid_impressions[i_conv])
    put("conv", i_conv, feat.conversions[i_conv])
    put("is_rev", i_rev, 1.0)
    put("log_value", i_rev, np.log(feat.revenue[i_rev] / feat.conversions[i_rev]))

    segs = active_segments(levels)
    idx = np.zeros((n, 2 + len(segs)), dtype=np.int64)
    idx[:, 0] = feat.platform
    idx[:, 1] = np.maximum(feat.format, 0)
    offset = 0
    for j, s in enumerate(segs):
        idx[:, 2 + j] = offset + np.maximum(feat.segment[s], 0)
        offset += len(levels.segments[s])
    n_p = len(levels.platforms)
    conv = feat.conversions[i_conv].astype(np.int64)
    return {
        "rows": rows,
        "idx": idx,
        "conv_table": count_table(conv, feat.platform[i_conv], n_p),
        "ll_const": np.asarray(-gammaln(conv + 1.0).sum()),
        "log_k_center": np.asarray(log_k_center, dtype=float),
    }


def coords_of(levels: Levels, priors: Priors) -> dict[str, list[str]]:
    """Model coords for the given levels and priors."""
    coords = {
        C.DIM_PLATFORM: list(levels.platforms),
        C.DIM_FORMAT: list(levels.formats),
        DIM_POOLED: list(pooled_names(priors)),
        DIM_COEF: list(coef_names(priors)),
        DIM_NOISE: list(noise_names(priors)),
    }
    for col in active_segments(levels):
        coords[segment_dim(col)] = list(levels.segments[col])
    return coords


def _prior_vectors(priors: Priors, log_k_center: Any) -> dict[str, Any]:
    """Centers and scales of the stacked prior blocks, in block order."""
    pooled, coefs, noises = prior_table(priors, log_k_center)
    pn = pooled_names(priors)
    cn = coef_names(priors)
    return {
        "pooled_center": pt.stack([pt.as_tensor(pooled[n][0], dtype="float64") for n in pn]),
        "pooled_center_sd": np.array([pooled[n][1] for n in pn]),
        "pooled_platform_sd": np.array([pooled[n][2] for n in pn]),
        "coef_center": np.array([coefs[n][0] for n in cn]),
        "coef_sd": np.array([coefs[n][1] for n in cn]),
        "noise_sd": np.array([noises[n] for n in noise_names(priors)]),
    }


def build_model(feat: Features, levels: Levels, priors: Priors, *, log_k_center: float) -> pm.Model:
    """Build the boost model for a post table.

    Parameters
    ----------
    feat
        Arrays from :func:`amplify.model.features.make_features`.
    levels
        Platform / format / segment levels (the model's coords).
    priors
        Prior settings and structural switches (``use_organic``, ``use_shares``).
    log_k_center
        Log of the prior median of the saturation spend ``k`` (from the observed spend scale).
    """
    arrays = data_arrays(feat, levels, log_k_center=log_k_center)
    organic = priors.use_organic
    shares = organic and priors.use_shares is True
    pn, cn = pooled_names(priors), coef_names(priors)
    n_p = len(levels.platforms)
    with pm.Model(coords=coords_of(levels, priors)) as model:
        d = {name: pm.Data(name, value) for name, value in arrays.items()}
        pv = _prior_vectors(priors, d["log_k_center"])

        mu = pm.Normal("pooled_mu", pv["pooled_center"], pv["pooled_center_sd"], dims=DIM_POOLED)
        sd = pm.LogNormal(
            "pooled_sd", np.log(pv["pooled_platform_sd"]), SCALE_LOG_SD, dims=DIM_POOLED
        )
        pooled = pm.Normal("pooled", mu[:, None], sd[:, None], dims=(DIM_POOLED, C.DIM_PLATFORM))
        coef = pm.Normal(
            "platform_coef",
            pv["coef_center"][:, None],
            pv["coef_sd"][:, None],
            dims=(DIM_COEF, C.DIM_PLATFORM),
        )
        noise = pm.HalfNormal("noise", pv["noise_sd"][:, None], dims=(DIM_NOISE, C.DIM_PLATFORM))

        if organic and len(levels.formats) > 1:
            fmt_sigma = pm.LogNormal("format_sigma", np.log(priors.format_sd), SCALE_LOG_SD)
            fe = pm.ZeroSumNormal("format_effect", sigma=fmt_sigma, dims=C.DIM_FORMAT)
        else:
            fe = pt.zeros((0,))
        seg_parts = []
        for col in active_segments(levels):
            s_sigma = pm.LogNormal(f"segment_sigma_{col}", np.log(priors.segment_sd), SCALE_LOG_SD)
            seg_parts.append(
                pm.ZeroSumNormal(f"segment_effect_{col}", sigma=s_sigma, dims=segment_dim(col))
            )
        seg = pt.concatenate(seg_parts) if seg_parts else pt.zeros((0,))

        zero = pt.zeros((n_p,))
        P = {name: pooled[i] for i, name in enumerate(pn)}
        K = {name: coef[i] for i, name in enumerate(cn)}
        N = {name: noise[i] for i, name in enumerate(noise_names(priors))}
        theta_rows = {
            "log_cpm": P["log_cpm"],
            "k": pt.exp(P["log_k"]),
            "impr_sigma": N["impr_sigma"],
            "er_logit": K["er_logit"] if organic else zero,
            "resonance_er": pt.exp(K["log_resonance_er"]) if organic else zero,
            "share_logit": K["share_logit"] if shares else zero,
            "shares_loading": K["shares_loading"] if shares else zero,
            "ctr_logit": P["ctr_logit"],
            "ctr_sigma": N["ctr_sigma"],
            "organic_effect": P["organic_effect"] if organic else zero,
            "cvr": pt.sigmoid(P["cvr_logit"]),
            "view_through": pt.exp(K["log_view_through"]),
            "conv_alpha": pt.exp(-2.0 * K["log_inv_sqrt_alpha"]),
            "value_log": K["value_log"],
            "value_sigma": N["value_sigma"],
            "reach_log": K["reach_log"] if organic else zero,
            "reach_loading": K["reach_loading"] if organic else zero,
            "reach_sigma": N["reach_sigma"] if organic else zero,
        }
        theta = pt.stack([theta_rows[name] for name in THETA_ROWS])
        outputs = BoostLogLik(organic=organic, shares=shares)(
            theta, fe, seg, d["rows"], d["idx"], d["conv_table"], d["ll_const"]
        )
        assert isinstance(outputs, list)
        ll = outputs[0]
        pm.Potential("loglik", ll)
    return model


# --- the paid-lift model for page exports without spend (e.g. the UCI Facebook page posts)
# -----------
def build_paid_lift_model(
    y: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    paid: np.ndarray,
    kind: np.ndarray,
    kinds: list[str],
    covariate: np.ndarray,
) -> pm.Model:
    """Paid lift of reach beyond the fans, and whether it grows with fan resonance.

    Per post: fan engagement rate (empirical logit ``y``, sampling variance ``v``) measures a latent
    resonance ``r ~ N(0, 1)``: ``y = a_y + type_y + tau * r + eps``. The outcome ``z`` (log reach or
    impressions beyond the fans) is ``a_z + type_z + c * covariate + gamma * paid + (b0 + b1 *
    paid) * r +
    N(0, sigma^2)``. ``r`` is integrated out exactly (``z | y`` is normal), so the fan-ER
    measurement noise
    does not attenuate ``b0, b1``. ``exp(gamma)`` is the paid lift at typical resonance; ``b1``
    says how the
    lift changes per SD of resonance.
    """
    with pm.Model(coords={"type": kinds}) as model:
        a_y = pm.Normal("a_y", logit(0.1), 1.5)
        s_y = pm.Gamma("type_sd_y", alpha=2.0, beta=2.0 / 0.5)
        t_y = pm.ZeroSumNormal("type_y", sigma=s_y, dims="type")
        tau = pm.LogNormal("tau", np.log(0.5), 0.75)
        a_z = pm.Normal("a_z", float(np.mean(z)), 3.0)
        s_z = pm.Gamma("type_sd_z", alpha=2.0, beta=2.0 / 1.0)
        t_z = pm.ZeroSumNormal("type_z", sigma=s_z, dims="type")
        c = pm.Normal("covariate_effect", 0.0, 1.0)
        gamma = pm.Normal("paid_lift_log", 0.0, 1.0)
        b0 = pm.Normal("resonance_effect", 0.0, 0.5)
        b1 = pm.Normal("paid_x_resonance", 0.0, 0.5)
        sigma = pm.HalfNormal("sigma", 1.0)
        mu_y = a_y + t_y[kind]
        pm.Normal("fan_er", mu_y, pt.sqrt(tau**2 + v), observed=y)
        r_mean = tau * (y - mu_y) / (tau**2 + v)
        r_var = v / (tau**2 + v)
        b = b0 + b1 * paid
        mu_z = a_z + t_z[kind] + c * covariate + gamma * paid + b * r_mean
        pm.Normal("outcome", mu_z, pt.sqrt(b**2 * r_var + sigma**2), observed=z)
    return model
