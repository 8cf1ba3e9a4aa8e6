"""The boost model's whole log density (priors, transforms, likelihood) as one numba function.

``nutpie.compile_pymc_model`` turns the PyMC model into numba code on every fit: 10-30 s on two
cores, the larger part of a fit for a few thousand posts. This module writes the same density
directly: the priors and unconstraining transforms of :func:`amplify.model.build.build_model` plus
the fused likelihood kernel of :mod:`amplify.model.likelihood`. It compiles once per machine (numba
disk cache) and loads in about a second; nutpie samples it through ``from_pyfunc``. The PyMC model
stays the definition (PyMC's NUTS, ADVI and prior predictive use it); tests check that both give the
same log density (up to a constant) and gradient in the same unconstrained coordinates.

Unconstrained coordinates, in PyMC's order: ``pooled_mu``, ``log pooled_sd``, ``pooled``
(row-major), ``platform_coef``, ``log noise``, then ``log format_sigma`` and the ``n - 1`` free
coordinates of ``format_effect`` (PyMC's zero-sum transform), then the same pair per segment column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from amplify import constants as C
from amplify.model.build import (
    DIM_COEF,
    DIM_NOISE,
    DIM_POOLED,
    active_segments,
    coords_of,
    data_arrays,
    segment_dim,
)
from amplify.model.features import Features, Levels
from amplify.model.likelihood import THETA_ROWS, boost_loglik
from amplify.model.priors import (
    SCALE_LOG_SD,
    Priors,
    coef_names,
    noise_names,
    pooled_names,
    prior_table,
)

# sources of the likelihood's theta rows
_POOLED, _COEF, _NOISE, _ZERO = 0, 1, 2, 3
# transforms from source value to theta row
_ID, _EXP, _SIGMOID, _ALPHA = 0, 1, 2, 3

_THETA_SOURCES: dict[str, tuple[int, str, int]] = {
    "log_cpm": (_POOLED, "log_cpm", _ID),
    "k": (_POOLED, "log_k", _EXP),
    "impr_sigma": (_NOISE, "impr_sigma", _ID),
    "er_logit": (_COEF, "er_logit", _ID),
    "resonance_er": (_COEF, "log_resonance_er", _EXP),
    "share_logit": (_COEF, "share_logit", _ID),
    "shares_loading": (_COEF, "shares_loading", _ID),
    "ctr_logit": (_POOLED, "ctr_logit", _ID),
    "ctr_sigma": (_NOISE, "ctr_sigma", _ID),
    "organic_effect": (_POOLED, "organic_effect", _ID),
    "cvr": (_POOLED, "cvr_logit", _SIGMOID),
    "view_through": (_COEF, "log_view_through", _EXP),
    "conv_alpha": (_COEF, "log_inv_sqrt_alpha", _ALPHA),
    "value_log": (_COEF, "value_log", _ID),
    "value_sigma": (_NOISE, "value_sigma", _ID),
    "reach_log": (_COEF, "reach_log", _ID),
    "reach_loading": (_COEF, "reach_loading", _ID),
    "reach_sigma": (_NOISE, "reach_sigma", _ID),
}


@dataclass(frozen=True)
class Layout:
    """Sizes of the parameter blocks and the prior constants, as flat arrays for the numba code."""

    dims: np.ndarray  # K1, K2, K3, P, F (0 = no format effect), index of log_k in pooled
    seg_sizes: np.ndarray  # levels per active segment column
    prior: np.ndarray  # see _prior_array
    src: np.ndarray  # (3, n_theta): source block, source row, transform
    organic: bool
    shares: bool
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dims_of: dict[str, tuple[str, ...]]
    coords: dict[str, list[str]]

    @property
    def n_dim(self) -> int:
        """Length of the unconstrained vector."""
        k1, k2, k3, p, f = (int(v) for v in self.dims[:5])
        n = 2 * k1 + k1 * p + k2 * p + k3 * p
        if f > 0:
            n += f  # log sigma + (f - 1) free coordinates
        return n + int(np.sum(self.seg_sizes))


def make_layout(levels: Levels, priors: Priors) -> Layout:
    """Block sizes, prior constants and output names for these levels and priors."""
    organic = priors.use_organic
    shares = organic and priors.use_shares is True
    pn, cn, nn = pooled_names(priors), coef_names(priors), noise_names(priors)
    n_p = len(levels.platforms)
    n_f = len(levels.formats) if (organic and len(levels.formats) > 1) else 0
    segs = active_segments(levels)
    seg_sizes = np.array([len(levels.segments[s]) for s in segs], dtype=np.int64)

    src = np.zeros((3, len(THETA_ROWS)), dtype=np.int64)
    for t, name in enumerate(THETA_ROWS):
        block, source, tf = _THETA_SOURCES[name]
        block_names = {_POOLED: pn, _COEF: cn, _NOISE: nn}[block]
        if source in block_names:
            src[:, t] = (block, block_names.index(source), tf)
        else:
            src[:, t] = (_ZERO, 0, _ID)

    pooled, coef, noise = prior_table(priors)  # log_k's center (NaN) comes from the data
    prior = np.concatenate(
        [
            [pooled[n][0] for n in pn],
            [pooled[n][1] for n in pn],
            [np.log(pooled[n][2]) for n in pn],
            [coef[n][0] for n in cn],
            [coef[n][1] for n in cn],
            [noise[n] for n in nn],
            [np.log(priors.format_sd), np.log(priors.segment_sd)],
        ]
    ).astype(float)
    dims = np.array([len(pn), len(cn), len(nn), n_p, n_f, pn.index("log_k")], dtype=np.int64)

    names: list[str] = ["pooled_mu", "pooled_sd", "pooled", "platform_coef", "noise"]
    shapes: list[tuple[int, ...]] = [(len(pn),), (len(pn),), (len(pn), n_p), (len(cn), n_p)]
    shapes.append((len(nn), n_p))
    dims_of: dict[str, tuple[str, ...]] = {
        "pooled_mu": (DIM_POOLED,),
        "pooled_sd": (DIM_POOLED,),
        "pooled": (DIM_POOLED, C.DIM_PLATFORM),
        "platform_coef": (DIM_COEF, C.DIM_PLATFORM),
        "noise": (DIM_NOISE, C.DIM_PLATFORM),
    }
    if n_f:
        names += ["format_sigma", "format_effect"]
        shapes += [(), (n_f,)]
        dims_of["format_effect"] = (C.DIM_FORMAT,)
    for s, size in zip(segs, seg_sizes, strict=True):
        names += [f"segment_sigma_{s}", f"segment_effect_{s}"]
        shapes += [(), (int(size),)]
        dims_of[f"segment_effect_{s}"] = (segment_dim(s),)
    return Layout(
        dims=dims,
        seg_sizes=seg_sizes,
        prior=prior,
        src=src,
        organic=organic,
        shares=shares,
        names=tuple(names),
        shapes=tuple(shapes),
        dims_of=dims_of,
        coords=coords_of(levels, priors),
    )


# --- zero-sum transform (PyMC's ZeroSumTransform on one axis) ----------------------------------
@numba.njit(cache=True, inline="always", error_model="numpy")
def _zerosum_backward(y: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = y.shape[0] + 1
    s = y.sum()
    norm = s / (np.sqrt(n) + n)
    out = np.empty(n)
    out[: n - 1] = y - norm
    out[n - 1] = -s / np.sqrt(n)
    return out


@numba.njit(cache=True, inline="always", error_model="numpy")
def _zerosum_adjoint(g: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = g.shape[0]
    head = g[: n - 1]
    return head - head.sum() / (np.sqrt(n) + n) - g[n - 1] / np.sqrt(n)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _zerosum_group(
    x: np.ndarray, grad: np.ndarray, o: int, m: int, log_median: float
) -> tuple[float, np.ndarray]:  # pragma: no cover - compiled
    """One zero-sum effect group stored at ``x[o : o + m]``: log scale ``x[o]`` ~
    Normal(``log_median``, ``SCALE_LOG_SD``) and ``m - 1`` free coordinates ~ Normal(0, scale).
    Adds its gradient to ``grad``; returns its log density and the ``m`` effects."""
    ls = x[o]
    sig = np.exp(ls)
    z = x[o + 1 : o + m]
    u = (ls - log_median) / SCALE_LOG_SD
    ss = (z * z).sum()
    grad[o] += -u / SCALE_LOG_SD + ss / (sig * sig) - (m - 1)
    grad[o + 1 : o + m] -= z / (sig * sig)
    return -0.5 * u * u - 0.5 * ss / (sig * sig) - (m - 1) * ls, _zerosum_backward(z)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def fast_logp(
    x: np.ndarray,
    rows: np.ndarray,
    idx: np.ndarray,
    table: np.ndarray,
    const: float,
    log_k_center: float,
    dims: np.ndarray,
    seg_sizes: np.ndarray,
    prior: np.ndarray,
    src: np.ndarray,
    organic: bool,
    shares: bool,
) -> tuple[float, np.ndarray]:  # pragma: no cover - compiled
    """Log density (up to a constant) and its gradient at the unconstrained point ``x``."""
    k1, k2, k3, n_p, n_f, i_logk = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    grad = np.zeros_like(x)
    lp = 0.0
    # prior constants
    pc = prior[0:k1].copy()
    pc[i_logk] = log_k_center
    pcs = prior[k1 : 2 * k1]
    plsd = prior[2 * k1 : 3 * k1]
    o = 3 * k1
    cc = prior[o : o + k2]
    cs = prior[o + k2 : o + 2 * k2]
    o += 2 * k2
    ns = prior[o : o + k3]
    fmt_log_median = prior[o + k3]
    seg_log_median = prior[o + k3 + 1]

    # --- blocks ---------------------------------------------------------------------------------
    o_mu = 0
    o_lsd = k1
    o_pool = 2 * k1
    o_coef = o_pool + k1 * n_p
    o_noise = o_coef + k2 * n_p
    o_rest = o_noise + k3 * n_p
    mu = x[o_mu : o_mu + k1]
    lsd = x[o_lsd : o_lsd + k1]
    sd = np.exp(lsd)
    pooled = x[o_pool:o_coef].reshape((k1, n_p))
    coef = x[o_coef:o_noise].reshape((k2, n_p))
    noise = np.exp(x[o_noise:o_rest]).reshape((k3, n_p))

    for k in range(k1):
        z = (mu[k] - pc[k]) / pcs[k]
        lp -= 0.5 * z * z
        grad[o_mu + k] -= z / pcs[k]
        u = (lsd[k] - plsd[k]) / SCALE_LOG_SD
        lp -= 0.5 * u * u
        grad[o_lsd + k] -= u / SCALE_LOG_SD
        for p in range(n_p):
            r = (pooled[k, p] - mu[k]) / sd[k]
            lp -= 0.5 * r * r + lsd[k]
            grad[o_pool + k * n_p + p] -= r / sd[k]
            grad[o_mu + k] += r / sd[k]
            grad[o_lsd + k] += r * r - 1.0
    for k in range(k2):
        for p in range(n_p):
            z = (coef[k, p] - cc[k]) / cs[k]
            lp -= 0.5 * z * z
            grad[o_coef + k * n_p + p] -= z / cs[k]
    for k in range(k3):
        for p in range(n_p):
            v = noise[k, p] / ns[k]
            lp += -0.5 * v * v + x[o_noise + k * n_p + p]
            grad[o_noise + k * n_p + p] += 1.0 - v * v

    # format and segment effects: zero-sum normals with LogNormal(log median, SCALE_LOG_SD) scales
    o = o_rest
    fe = np.zeros(max(n_f, 0))
    o_fz = 0
    if n_f > 0:
        lp_g, fe = _zerosum_group(x, grad, o, n_f, fmt_log_median)
        lp += lp_g
        o_fz = o + 1
        o += n_f
    n_seg = seg_sizes.sum()
    seg = np.zeros(n_seg)
    seg_z_off = np.zeros(seg_sizes.shape[0], dtype=np.int64)
    pos = 0
    for c in range(seg_sizes.shape[0]):
        m = seg_sizes[c]
        lp_g, eff = _zerosum_group(x, grad, o, m, seg_log_median)
        lp += lp_g
        seg[pos : pos + m] = eff
        seg_z_off[c] = o + 1
        pos += m
        o += m

    # --- theta for the likelihood -----------------------------------------------------------------
    n_t = src.shape[1]
    theta = np.zeros((n_t, n_p))
    for t in range(n_t):
        block = src[0, t]
        row = src[1, t]
        tf = src[2, t]
        for p in range(n_p):
            if block == 0:
                v = pooled[row, p]
            elif block == 1:
                v = coef[row, p]
            elif block == 2:
                v = noise[row, p]
            else:
                continue
            if tf == 0:
                theta[t, p] = v
            elif tf == 1:
                theta[t, p] = np.exp(v)
            elif tf == 2:
                theta[t, p] = 1.0 / (1.0 + np.exp(-v))
            else:
                theta[t, p] = np.exp(-2.0 * v)
    ll, g_theta, g_fe, g_seg = boost_loglik(
        theta, fe, seg, rows, idx, table, const, organic, shares
    )
    lp += ll
    for t in range(n_t):
        block = src[0, t]
        row = src[1, t]
        tf = src[2, t]
        if block == 3:
            continue
        for p in range(n_p):
            g = g_theta[t, p]
            if tf == 1:
                g *= theta[t, p]
            elif tf == 2:
                g *= theta[t, p] * (1.0 - theta[t, p])
            elif tf == 3:
                g *= -2.0 * theta[t, p]
            if block == 0:
                grad[o_pool + row * n_p + p] += g
            elif block == 1:
                grad[o_coef + row * n_p + p] += g
            else:
                grad[o_noise + row * n_p + p] += g * noise[row, p]
    if n_f > 0:
        grad[o_fz : o_fz + n_f - 1] += _zerosum_adjoint(g_fe)
    pos = 0
    for c in range(seg_sizes.shape[0]):
        m = seg_sizes[c]
        grad[seg_z_off[c] : seg_z_off[c] + m - 1] += _zerosum_adjoint(g_seg[pos : pos + m])
        pos += m
    if not np.isfinite(lp):  # far out in the tails (warm-up): let the sampler reject the point
        lp = -np.inf
    return lp, grad


def expand(x: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """Named constrained values (as in the PyMC model's posterior) at unconstrained ``x``."""
    k1, k2, k3, n_p = (int(v) for v in layout.dims[:4])
    o = 0
    out: dict[str, np.ndarray] = {}
    out["pooled_mu"] = x[o : o + k1].copy()
    o += k1
    out["pooled_sd"] = np.exp(x[o : o + k1])
    o += k1
    out["pooled"] = x[o : o + k1 * n_p].reshape(k1, n_p).copy()
    o += k1 * n_p
    out["platform_coef"] = x[o : o + k2 * n_p].reshape(k2, n_p).copy()
    o += k2 * n_p
    out["noise"] = np.exp(x[o : o + k3 * n_p]).reshape(k3, n_p)
    o += k3 * n_p
    rest = [n for n in layout.names if n.startswith(("format_", "segment_"))]
    for j in range(0, len(rest), 2):
        size = layout.shapes[layout.names.index(rest[j + 1])][0]
        out[rest[j]] = np.asarray(np.exp(x[o]))
        out[rest[j + 1]] = _zerosum_backward(np.ascontiguousarray(x[o + 1 : o + size]))
        o += size
    return out


def initial_point(layout: Layout, log_k_center: float, seed: int) -> np.ndarray:
    """Prior centers with a U(-1, 1) jitter on every unconstrained coordinate (as PyMC does)."""
    k1, k2, k3, n_p, _ = (int(v) for v in layout.dims[:5])
    pc = layout.prior[:k1].copy()
    pc[int(layout.dims[5])] = log_k_center
    plsd = layout.prior[2 * k1 : 3 * k1]
    cc = layout.prior[3 * k1 : 3 * k1 + k2]
    ns = layout.prior[3 * k1 + 2 * k2 : 3 * k1 + 2 * k2 + k3]
    parts = [pc, plsd, np.repeat(pc, n_p), np.repeat(cc, n_p), np.repeat(np.log(ns / 2), n_p)]
    rest = layout.n_dim - sum(len(a) for a in parts)
    x0 = np.concatenate([*parts, np.zeros(rest)])
    rng = np.random.default_rng(seed)
    return np.asarray(x0 + rng.uniform(-1.0, 1.0, x0.size), dtype=float)


def compiled(feat: Features, levels: Levels, priors: Priors, *, log_k_center: float) -> Any:
    """A nutpie model (``nutpie.from_pyfunc``) of the boost model's density for this table."""
    from nutpie.compiled_pyfunc import from_pyfunc

    layout = make_layout(levels, priors)
    arrays = data_arrays(feat, levels, log_k_center=log_k_center)
    shared = {
        "rows": np.ascontiguousarray(arrays["rows"]),
        "idx": np.ascontiguousarray(arrays["idx"]),
        "table": np.ascontiguousarray(arrays["conv_table"]),
        "const": float(arrays["ll_const"]),
        "log_k_center": float(log_k_center),
    }

    def make_logp_fn() -> Any:
        def logp(x: np.ndarray, **data: Any) -> tuple[float, np.ndarray]:
            lp, grad = fast_logp(
                x,
                data["rows"],
                data["idx"],
                data["table"],
                data["const"],
                data["log_k_center"],
                layout.dims,
                layout.seg_sizes,
                layout.prior,
                layout.src,
                layout.organic,
                layout.shares,
            )
            return float(lp), grad

        return logp

    def make_expand_fn(seed1: Any, seed2: Any, chain: Any) -> Any:
        def expand_fn(x: np.ndarray, **data: Any) -> dict[str, np.ndarray]:
            return expand(np.asarray(x), layout)

        return expand_fn

    def make_initial_point(seed: int) -> np.ndarray:
        return initial_point(layout, log_k_center, int(seed) % (2**32))

    return from_pyfunc(
        ndim=layout.n_dim,
        make_logp_fn=make_logp_fn,
        make_expand_fn=make_expand_fn,
        expanded_dtypes=[np.dtype("float64")] * len(layout.names),
        expanded_shapes=list(layout.shapes),
        expanded_names=list(layout.names),
        coords={k: list(v) for k, v in layout.coords.items()},
        dims=layout.dims_of,
        shared_data=shared,
        make_initial_point_fn=make_initial_point,
    )
