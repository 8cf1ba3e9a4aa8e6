"""Pure response math shared by the PyMC model and the numpy post-processing.

No ``pm.Model`` here: functions take arrays (numpy) or tensors (pytensor). Arithmetic-only
functions work on
both as they are; functions needing ``log``/``exp``/``expit`` take the array module ``xp``
(``numpy`` by
default, ``pytensor.tensor`` inside the model).

The two ideas the model rests on:

* **Empirical logits.** A rate estimated from ``e`` successes in ``n`` trials is summarised by
  ``y = log((e + 0.5) / (n - e + 0.5))`` with known sampling variance ``1 / (e + 0.5) + 1 / (n - e
  + 0.5)``;
  with the large counts of impressions and engagements this normal approximation is accurate.
  Shares per engagement are small counts: their logit is corrected for its exact bias and given its
  exact variance (:func:`binomial_logit_moments`).
* **Marginalised resonance.** Each post has a latent resonance ``r ~ N(m, 1)`` that shifts its
organic
  engagement logit by ``tau * r``, its share-per-engagement logit by ``lam * r`` and its paid CTR
  logit by
  ``beta * r``. Because every indicator is linear-Gaussian in ``r``, ``r`` is integrated out
  exactly by a
  Kalman-style sequence of conditional normals (:func:`resonance_update`); no per-post latent is
  sampled.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit
from scipy.stats import binom

FloatArray = NDArray[np.float64]

#: Gauss-Hermite nodes/weights (probabilists') to average a function over a standard normal.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def empirical_logit(successes: ArrayLike, trials: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Empirical logit of ``successes / trials`` and its approximate sampling variance.

    Parameters
    ----------
    successes, trials
        Counts (``0 <= successes <= trials``); NaN propagates.

    Returns
    -------
    y, v
        ``log((e + .5) / (n - e + .5))`` and ``1 / (e + .5) + 1 / (n - e + .5)``.
    """
    e = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a = e + 0.5
    b = n - e + 0.5
    return np.log(a / b), 1.0 / a + 1.0 / b


def binomial_logit_moments(trials: ArrayLike, rate: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Exact mean and variance of the empirical logit of ``Binomial(trials, rate)`` counts.

    At small counts the empirical logit is neither centred on ``logit(rate)`` nor has the variance
    of :func:`empirical_logit` (which is computed from the observed count, so it is correlated with
    the error: inverse-variance weighting then favours posts with many successes). Averaging over
    the binomial distribution at a reference rate gives both exactly, for any count.

    Parameters
    ----------
    trials
        Numbers of trials (non-negative; rounded to whole numbers), any shape.
    rate
        Reference success probability (in ``(0, 1)``), broadcast against ``trials``.

    Returns
    -------
    mean, var
        ``E[y]`` and ``Var[y]`` of ``y = log((e + .5) / (n - e + .5))``,
        ``e ~ Binomial(n, rate)``.
    """
    n_all, p_all = np.broadcast_arrays(
        np.rint(np.asarray(trials, dtype=float)), np.asarray(rate, dtype=float)
    )
    pairs, inverse = np.unique(
        np.stack([n_all.ravel(), p_all.ravel()], axis=1), axis=0, return_inverse=True
    )
    n, p = pairs[:, 0:1], pairs[:, 1:2]
    # the binomial mass lies within ~10 sd of n * p: sum over that window only
    half = int(np.ceil(10.0 * np.sqrt(np.max(n * p * (1.0 - p), initial=0.0)))) + 12
    s = np.floor(n * p) + np.arange(-half, half + 1)
    e = np.clip(s, 0, n)
    w = np.where((s >= 0) & (s <= n), binom.pmf(e, n, p), 0.0)
    w /= w.sum(axis=1, keepdims=True)
    y = empirical_logit(e, n)[0]
    m = np.sum(w * y, axis=1)
    v = np.sum(w * (y - m[:, None]) ** 2, axis=1)
    pick = inverse.ravel()
    return m[pick].reshape(n_all.shape), v[pick].reshape(n_all.shape)


def resonance_update(
    mean: Any, var: Any, y: Any, v: Any, intercept: Any, loading: Any, mask: Any = 1.0
) -> tuple[Any, Any, Any, Any]:
    """One conditional-normal (Kalman) step of the marginalised resonance.

    The indicator is ``y = intercept + loading * r + eps`` with ``eps ~ N(0, v)`` and the current
    belief
    ``r ~ N(mean, var)``.

    Parameters
    ----------
    mean, var
        Current belief about ``r``.
    y, v
        Observed indicator and its sampling variance (fill missing entries with any finite value
        and set
        ``mask`` to 0 there).
    intercept, loading
        Indicator intercept and loading on ``r``.
    mask
        1 where the indicator is observed, 0 where it is not (then the belief is unchanged).

    Returns
    -------
    resid, pred_var, new_mean, new_var
        Prediction error ``y - E[y]`` and predictive variance of ``y`` before seeing it (so the
        indicator's
        log density is ``-0.5 * (log(2 pi pred_var) + resid^2 / pred_var)``), and the updated
        belief.
    """
    resid = y - intercept - loading * mean
    pred_var = loading * loading * var + v
    gain = mask * loading * var / pred_var
    return resid, pred_var, mean + gain * resid, var - gain * loading * var


def normal_logp_terms(resid: Any, var: Any, xp: ModuleType = np) -> Any:
    """Per-row normal log density from residual and variance (with the ``log(2 pi)`` term)."""
    return -0.5 * (xp.log(2.0 * np.pi * var) + resid * resid / var)


def count_table(y: ArrayLike, group: ArrayLike, n_groups: int) -> FloatArray:
    """``table[g, j]`` = number of rows of group ``g`` with ``y > j``, for ``j < max(y)``.

    Then ``sum_i lgamma(y_i + a_g) - lgamma(a_g) = sum_j table[g, j] * log(a_g + j)``.
    """
    yy = np.asarray(y, dtype=np.int64)
    gg = np.asarray(group, dtype=np.int64)
    top = int(yy.max()) if yy.size else 0
    table = np.zeros((n_groups, max(top, 1)))
    for g in range(n_groups):
        counts = np.bincount(yy[gg == g], minlength=top + 1)
        # rows with y > j  =  total - rows with y <= j
        table[g, :top] = counts.sum() - np.cumsum(counts)[:top]
    return table


def log_median_impressions(spend: Any, log_cpm: Any, k: Any, xp: ModuleType = np) -> Any:
    """Log of the median paid impressions for one boost: ``log(1000 s / cpm) - log1p(s / k)``."""
    return xp.log(1000.0 * spend) - log_cpm - xp.log1p(spend / k)


def expected_ctr(ctr_logit: ArrayLike, noise_sd: ArrayLike) -> FloatArray:
    """``E[expit(ctr_logit + u)]`` for ``u ~ N(0, noise_sd^2)`` (Gauss-Hermite), broadcast."""
    a = np.asarray(ctr_logit, dtype=float)[..., None]
    s = np.asarray(noise_sd, dtype=float)[..., None]
    return np.asarray(np.sum(_GH_WEIGHTS * expit(a + s * _GH_NODES), axis=-1), dtype=float)


def curve_beta(
    cpm: ArrayLike,
    ctr: ArrayLike,
    cvr: ArrayLike,
    view_through: ArrayLike,
    impr_sigma: ArrayLike | float = 0.0,
) -> FloatArray:
    """Conversions per unit spend at low spend.

    ``1000 / cpm * exp(sigma^2 / 2) * (ctr * cvr + vt)``: ``exp(sigma^2 / 2)`` turns the median
    impressions of the lognormal impression model into the mean.
    """
    c = np.asarray(cpm, dtype=float)
    lift = np.exp(0.5 * np.asarray(impr_sigma, dtype=float) ** 2)
    rate = np.asarray(ctr, dtype=float) * np.asarray(cvr, dtype=float) + np.asarray(
        view_through, dtype=float
    )
    return np.asarray(1000.0 / c * lift * rate, dtype=float)
