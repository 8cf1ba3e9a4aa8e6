"""The boost model's likelihood: one fused numba kernel with its exact gradient, as a PyTensor Op.

Why a hand-written kernel: the likelihood is a sum over posts of a few conditional normals and a
NegativeBinomial. Written with stock PyMC distributions it costs ~165 ns per post per gradient and
~40 s of
numba compilation per process; this single pass over the rows costs ~15 ns per post and compiles
once per
machine (numba disk cache). Priors, transforms and hierarchy stay in PyMC
(:mod:`amplify.model.build`).

Per row (post) ``i`` on platform ``p`` (see :mod:`amplify.model.build` for the model), with the
latent
resonance integrated out by Kalman steps (:func:`amplify.model.transforms.resonance_update`):

* impressions: ``log paid_impr ~ N(log(1000 s) - log cpm - log1p(s / k), impr_sigma)``
* log organic impressions (reach), organic ER logit, shares-per-engagement logit: conditional
normals,
  each given the earlier indicators
* paid CTR logit: ``N(ctr + segments + beta * E[r | organic], beta^2 Var[r | organic] + ctr_sigma^2
+ v_c)``
* conversions: NegBin(mean ``clicks * cvr + impr * vt``, ``alpha``), written as
  ``sum_{j<y} log1p(j / alpha) - lgamma(y + 1) - (alpha + y) log1p(mu / alpha) + y log mu`` (exact,
  and stable in
  the Poisson limit), the first sum taken once per platform through a count table
* log revenue per conversion: ``N(value_log, value_sigma)``

The numpy reference of the same density, row by row, is
:func:`amplify.model.predict.pointwise_loglik`;
tests check the two agree and that the gradient matches finite differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

#: Rows of the per-platform parameter matrix ``theta`` (shape ``(len(THETA_ROWS), n_platforms)``).
THETA_ROWS: tuple[str, ...] = (
    "log_cpm",
    "k",
    "impr_sigma",
    "er_logit",
    "resonance_er",
    "share_logit",
    "shares_loading",
    "ctr_logit",
    "ctr_sigma",
    "organic_effect",
    "cvr",
    "view_through",
    "conv_alpha",
    "value_log",
    "value_sigma",
    "reach_log",
    "reach_loading",
    "reach_sigma",
)
#: Columns of the per-post float matrix ``rows`` (shape ``(n_posts, len(ROW_FIELDS))``).
ROW_FIELDS: tuple[str, ...] = (
    "y_n",
    "has_n",
    "y_o",
    "v_o",
    "has_o",
    "y_s",
    "v_s",
    "has_s",
    "is_c",
    "y_c",
    "v_c",
    "is_imp",
    "spend",
    "log_spend_1000",
    "log_impr",
    "is_conv",
    "clicks",
    "impr",
    "conv",
    "is_rev",
    "log_value",
)

(
    _LOG_CPM,
    _K,
    _IMPR_SIGMA,
    _ER,
    _TAU,
    _SH,
    _LAM,
    _CTR,
    _CTR_SIGMA,
    _BETA,
    _CVR,
    _VT,
    _ALPHA,
    _VALUE_LOG,
    _VALUE_SIGMA,
    _REACH_LOG,
    _REACH_LOADING,
    _REACH_SIGMA,
) = range(len(THETA_ROWS))
(
    _Y_N,
    _HAS_N,
    _Y_O,
    _V_O,
    _HAS_O,
    _Y_S,
    _V_S,
    _HAS_S,
    _IS_C,
    _Y_C,
    _V_C,
    _IS_IMP,
    _SPEND,
    _LOG_SPEND_1000,
    _LOG_IMPR,
    _IS_CONV,
    _CLICKS,
    _IMPR,
    _CONV,
    _IS_REV,
    _LOG_VALUE,
) = range(len(ROW_FIELDS))

_HALF_LOG_2PI = 0.9189385332046727


@numba.njit(cache=True, inline="always", error_model="numpy")
def _stage_fwd(
    mean: float, var: float, y: float, v: float, icpt: float, load: float
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    """Kalman step: ``(resid, pred_var, new_mean, new_var, loglik)`` (see ``resonance_update``)."""
    r = y - icpt - load * mean
    sv = load * load * var + v
    gain = load * var / sv
    ll = -_HALF_LOG_2PI - 0.5 * np.log(sv) - 0.5 * r * r / sv
    return r, sv, mean + gain * r, var * v / sv, ll


@numba.njit(cache=True, inline="always", error_model="numpy")
def _stage_bwd(
    a_new_mean: float,
    a_new_var: float,
    mean: float,
    var: float,
    r: float,
    sv: float,
    v: float,
    load: float,
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    """Adjoints of one Kalman step and its log density.

    Given the adjoints of the updated mean and variance, returns the adjoints of the prior ``mean``
    and
    ``var``, of the intercept, of the loading and of the noise variance ``v``.
    """
    gain = load * var / sv
    a_r = -r / sv + a_new_mean * gain
    a_s = (
        0.5 * (r * r - sv) / (sv * sv)
        - a_new_mean * load * var * r / (sv * sv)
        - a_new_var * var * v / (sv * sv)
    )
    a_mean = a_new_mean - a_r * load
    a_var = a_new_mean * load * r / sv + a_new_var * v / sv + a_s * load * load
    a_load = a_new_mean * var * r / sv - a_r * mean + a_s * 2.0 * load * var
    a_v = a_new_var * var / sv + a_s
    return a_mean, a_var, -a_r, a_load, a_v


@numba.njit(cache=True, nogil=True, error_model="numpy")
def boost_loglik(
    theta: np.ndarray,
    fe: np.ndarray,
    seg: np.ndarray,
    rows: np.ndarray,
    idx: np.ndarray,
    table: np.ndarray,
    const: float,
    organic: bool,
    shares: bool,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Log likelihood of all posts and its gradient with respect to ``theta``, ``fe`` and ``seg``.

    Parameters
    ----------
    theta
        ``(len(THETA_ROWS), n_platforms)`` platform parameters on their natural scales.
    fe
        Format effects on the resonance mean (length ``n_formats``; may be length 0).
    seg
        Segment CTR effects of all segment columns, concatenated.
    rows
        ``(n_posts, len(ROW_FIELDS))`` per-post data (0 where a stage has no data).
    idx
        ``(n_posts, 2 + n_segment_columns)`` int: platform code, format code, offsets into ``seg``.
    table
        Per-platform count table of conversions (``table[p, j]`` = rows with ``conv > j``).
    const
        Constant added to the log likelihood (``-sum lgamma(conv + 1)``).
    organic, shares
        Whether the resonance stages are in the model.
    """
    g_theta = np.zeros_like(theta)
    g_fe = np.zeros_like(fe)
    g_seg = np.zeros_like(seg)
    ll = const
    n_rows = rows.shape[0]
    n_seg_cols = idx.shape[1] - 2
    has_fe = fe.shape[0] > 0
    for i in range(n_rows):
        p = idx[i, 0]
        # --- impressions -------------------------------------------------------------------
        if rows[i, _IS_IMP] > 0.0:
            s = rows[i, _SPEND]
            k = theta[_K, p]
            sig = theta[_IMPR_SIGMA, p]
            res = (
                rows[i, _LOG_IMPR] - rows[i, _LOG_SPEND_1000] + theta[_LOG_CPM, p] + np.log1p(s / k)
            )
            inv_s2 = 1.0 / (sig * sig)
            ll += -np.log(sig) - _HALF_LOG_2PI - 0.5 * res * res * inv_s2
            a = -res * inv_s2
            g_theta[_LOG_CPM, p] += a
            g_theta[_K, p] += a * (-s / (k * (k + s)))
            g_theta[_IMPR_SIGMA, p] += -1.0 / sig + res * res * inv_s2 / sig
        # --- resonance: forward through reach, organic ER, shares ----------------------------
        m0 = 0.0
        mean_c = 0.0
        var_c = 1.0
        mean_n = mean_o = 0.0
        var_n = var_o = 1.0
        use_n = use_o = use_s = False
        st_n = st_o = st_s = (0.0, 0.0, 0.0, 0.0, 0.0)
        if organic:
            if has_fe:
                m0 = fe[idx[i, 1]]
            mean_c = m0
            use_n = rows[i, _HAS_N] > 0.0
            if use_n:
                sn = theta[_REACH_SIGMA, p]
                st_n = _stage_fwd(
                    mean_c,
                    var_c,
                    rows[i, _Y_N],
                    sn * sn,
                    theta[_REACH_LOG, p],
                    theta[_REACH_LOADING, p],
                )
                ll += st_n[4]
                mean_c, var_c = st_n[2], st_n[3]
            mean_n, var_n = mean_c, var_c
            use_o = rows[i, _HAS_O] > 0.0
            if use_o:
                st_o = _stage_fwd(
                    mean_c, var_c, rows[i, _Y_O], rows[i, _V_O], theta[_ER, p], theta[_TAU, p]
                )
                ll += st_o[4]
                mean_c, var_c = st_o[2], st_o[3]
            mean_o, var_o = mean_c, var_c
            use_s = shares and rows[i, _HAS_S] > 0.0
            if use_s:
                st_s = _stage_fwd(
                    mean_c, var_c, rows[i, _Y_S], rows[i, _V_S], theta[_SH, p], theta[_LAM, p]
                )
                ll += st_s[4]
                mean_c, var_c = st_s[2], st_s[3]
        # --- paid CTR
        # -------------------------------------------------------------------------------
        adj_mean = 0.0
        adj_var = 0.0
        if rows[i, _IS_C] > 0.0:
            eta = theta[_CTR, p]
            for c in range(n_seg_cols):
                eta += seg[idx[i, 2 + c]]
            sc = theta[_CTR_SIGMA, p]
            s3 = sc * sc + rows[i, _V_C]
            b = 0.0
            if organic:
                b = theta[_BETA, p]
                eta += b * mean_c
                s3 += b * b * var_c
            r3 = rows[i, _Y_C] - eta
            ll += -_HALF_LOG_2PI - 0.5 * np.log(s3) - 0.5 * r3 * r3 / s3
            a_r3 = -r3 / s3
            a_s3 = 0.5 * (r3 * r3 - s3) / (s3 * s3)
            g_theta[_CTR, p] -= a_r3
            for c in range(n_seg_cols):
                g_seg[idx[i, 2 + c]] -= a_r3
            g_theta[_CTR_SIGMA, p] += a_s3 * 2.0 * sc
            if organic:
                g_theta[_BETA, p] += -a_r3 * mean_c + a_s3 * 2.0 * b * var_c
                adj_mean = -a_r3 * b
                adj_var = a_s3 * b * b
        # --- resonance: backward (shares, organic ER, reach) -----------------------------------
        if organic:
            if use_s:
                a_m, a_v, a_i, a_l, _ = _stage_bwd(
                    adj_mean,
                    adj_var,
                    mean_o,
                    var_o,
                    st_s[0],
                    st_s[1],
                    rows[i, _V_S],
                    theta[_LAM, p],
                )
                adj_mean, adj_var = a_m, a_v
                g_theta[_SH, p] += a_i
                g_theta[_LAM, p] += a_l
            if use_o:
                a_m, a_v, a_i, a_l, _ = _stage_bwd(
                    adj_mean,
                    adj_var,
                    mean_n,
                    var_n,
                    st_o[0],
                    st_o[1],
                    rows[i, _V_O],
                    theta[_TAU, p],
                )
                adj_mean, adj_var = a_m, a_v
                g_theta[_ER, p] += a_i
                g_theta[_TAU, p] += a_l
            if use_n:
                sn = theta[_REACH_SIGMA, p]
                a_m, a_v, a_i, a_l, a_vv = _stage_bwd(
                    adj_mean,
                    adj_var,
                    m0,
                    1.0,
                    st_n[0],
                    st_n[1],
                    sn * sn,
                    theta[_REACH_LOADING, p],
                )
                adj_mean = a_m
                g_theta[_REACH_LOG, p] += a_i
                g_theta[_REACH_LOADING, p] += a_l
                g_theta[_REACH_SIGMA, p] += a_vv * 2.0 * sn
            if has_fe:
                g_fe[idx[i, 1]] += adj_mean
        # --- conversions: NegBin in a form stable as alpha -> infinity (Poisson limit)
        # ----------------
        if rows[i, _IS_CONV] > 0.0:
            y = rows[i, _CONV]
            al = theta[_ALPHA, p]
            mu = rows[i, _CLICKS] * theta[_CVR, p] + rows[i, _IMPR] * theta[_VT, p]
            l1p = np.log1p(mu / al)
            ll += y * np.log(mu) - (al + y) * l1p
            dmu = y / mu - (al + y) / (al + mu)
            g_theta[_CVR, p] += dmu * rows[i, _CLICKS]
            g_theta[_VT, p] += dmu * rows[i, _IMPR]
            g_theta[_ALPHA, p] += -l1p + (al + y) * mu / (al * (al + mu))
        # --- revenue per conversion ---------------------------------------------------------------
        if rows[i, _IS_REV] > 0.0:
            sv = theta[_VALUE_SIGMA, p]
            res = rows[i, _LOG_VALUE] - theta[_VALUE_LOG, p]
            inv_s2 = 1.0 / (sv * sv)
            ll += -np.log(sv) - _HALF_LOG_2PI - 0.5 * res * res * inv_s2
            g_theta[_VALUE_LOG, p] += res * inv_s2
            g_theta[_VALUE_SIGMA, p] += -1.0 / sv + res * res * inv_s2 / sv
    # --- NegBin count terms per platform: sum_i sum_{j < y_i} log1p(j / alpha)
    # -------------------------
    for p in range(theta.shape[1]):
        al = theta[_ALPHA, p]
        for j in range(1, table.shape[1]):
            c = table[p, j]
            if c > 0.0:
                ll += c * np.log1p(j / al)
                g_theta[_ALPHA, p] -= c * j / (al * (al + j))
    return ll, g_theta, g_fe, g_seg


class BoostLogLik(Op):
    """PyTensor Op: ``(theta, fe, seg, data...) -> (loglik, d/dtheta, d/dfe, d/dseg)``.

    Only the first output is meant to be used as a log density; the others are its gradient,
    returned by
    the same call so one pass over the rows serves both. Second derivatives are not available.
    """

    __props__ = ("organic", "shares")

    def __init__(self, organic: bool = True, shares: bool = True) -> None:
        self.organic = bool(organic)
        self.shares = bool(shares)

    def make_node(self, *inputs: Any) -> Apply:
        theta, fe, seg, rows, idx, table, const = (pt.as_tensor(x) for x in inputs)
        theta = pt.cast(theta, "float64")
        fe = pt.cast(fe, "float64")
        seg = pt.cast(seg, "float64")
        outs = [pt.dscalar(), theta.type(), fe.type(), seg.type()]
        return Apply(self, [theta, fe, seg, rows, idx, table, const], outs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        theta, fe, seg, rows, idx, table, const = inputs
        ll, g_theta, g_fe, g_seg = boost_loglik(
            theta, fe, seg, rows, idx, table, float(const), self.organic, self.shares
        )
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = g_theta
        output_storage[2][0] = g_fe
        output_storage[3][0] = g_seg

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        n_out = len(node.outputs)
        return [[True] * n_out for _ in range(3)] + [[False] * n_out for _ in range(4)]

    def pullback(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        g = output_grads[0]
        return [g * outputs[1], g * outputs[2], g * outputs[3]] + [
            disconnected_type() for _ in range(4)
        ]


# One jitted entry point per structural variant, defined at module level: no closure variables for
# PyTensor's numba cache to hoist (closure flags baked into cached code made the variants collide).
@numba.njit(cache=True, error_model="numpy")
def _op_organic_shares(theta, fe, seg, rows, idx, table, const):
    ll, g_theta, g_fe, g_seg = boost_loglik(
        theta, fe, seg, rows, idx, table, const.item(), True, True
    )  # pragma: no cover - compiled
    return np.asarray(ll), g_theta, g_fe, g_seg


@numba.njit(cache=True, error_model="numpy")
def _op_organic(theta, fe, seg, rows, idx, table, const):
    ll, g_theta, g_fe, g_seg = boost_loglik(
        theta, fe, seg, rows, idx, table, const.item(), True, False
    )  # pragma: no cover - compiled
    return np.asarray(ll), g_theta, g_fe, g_seg


@numba.njit(cache=True, error_model="numpy")
def _op_paid_only(theta, fe, seg, rows, idx, table, const):
    ll, g_theta, g_fe, g_seg = boost_loglik(
        theta, fe, seg, rows, idx, table, const.item(), False, False
    )  # pragma: no cover - compiled
    return np.asarray(ll), g_theta, g_fe, g_seg


@register_funcify_default_op_cache_key(BoostLogLik)
def _numba_boost_loglik(op: BoostLogLik, node: Any = None, **kwargs: Any) -> Any:
    if not op.organic:
        return _op_paid_only, 2
    return (_op_organic_shares if op.shares else _op_organic), 2
