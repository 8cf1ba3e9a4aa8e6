"""Is the fit trustworthy? Convergence (r_hat, ESS, divergences) and posterior predictive checks.

:func:`convergence` reads the sampler output (ArviZ 1.x on the DataTree); :func:`predictive_checks`
compares
what the fitted model predicts for the training posts with what was observed. Both feed a
:class:`Diagnostics` with plain-language warnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import arviz as az
import numpy as np
from numpy.typing import NDArray

from amplify import constants as C

RHAT_MAX = 1.01
ESS_MIN = 400.0
PPC_COVERAGE_MIN = 0.8
PPC_P_EXTREME = 0.01


@dataclass(frozen=True)
class Diagnostics:
    """Convergence and fit checks of one fit (JSON-able: ``dataclasses.asdict`` works).

    Attributes
    ----------
    max_rhat, min_ess_bulk, min_ess_tail
        Over every free parameter (NaN for an approximate fit, which has no chains to compare).
    divergences
        Divergent NUTS transitions after tuning.
    ok
        True when no check failed (an approximate fit can be ok: its label is a warning, not a
        failure).
    warnings
        Plain-language explanation of every failed check, with what to do; for an approximate fit
        the first
        warning says so.
    approximate
        True for ADVI / pathfinder fits: fast, but the uncertainty is only approximate.
    ppc
        Posterior predictive checks on the training posts: in-sample 90% interval coverage of
        conversions,
        clicks and paid impressions, and per platform the predictive p-value of total conversions.
    method, n_chains, n_draws, fit_seconds
        How the fit was made.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    ok: bool
    warnings: list[str]
    approximate: bool
    ppc: dict[str, float] = field(default_factory=dict)
    method: str = "nuts"
    n_chains: int = 0
    n_draws: int = 0
    fit_seconds: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostics:
        """Inverse of :meth:`to_dict`."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def convergence(idata: Any, var_names: Sequence[str]) -> tuple[float, float, float, int]:
    """``(max_rhat, min_ess_bulk, min_ess_tail, divergences)`` over ``var_names``."""
    post = idata["posterior"]
    names = [v for v in var_names if v in post.data_vars]
    rhat = az.rhat(idata, var_names=names)
    bulk = az.ess(idata, var_names=names, method="bulk")
    tail = az.ess(idata, var_names=names, method="tail")

    def agg(ds: Any, fn: Any) -> float:
        vals = [np.asarray(ds[v].values, dtype=float).ravel() for v in names]
        allv = np.concatenate(vals) if vals else np.array([np.nan])
        allv = allv[np.isfinite(allv)]
        return float(fn(allv)) if allv.size else float("nan")

    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"].data_vars:
        divergences = int(np.asarray(idata["sample_stats"]["diverging"].values).sum())
    return agg(rhat, np.max), agg(bulk, np.min), agg(tail, np.min), divergences


def pit_coverage(
    draws: NDArray[np.float64], y: NDArray[np.float64], level: float = 0.9
) -> NDArray[np.float64]:
    """Per-observation coverage of the central ``level`` predictive interval, exact for counts.

    For a count ``y`` the predictive CDF jumps from ``F(y-)`` to ``F(y)``; the randomised PIT is
    uniform on
    that step, and the observation counts as covered by the share of the step inside
    ``[(1 - level) / 2, (1 + level) / 2]``. Under a calibrated model the mean is exactly ``level``
    (an
    inclusive quantile interval over-covers small counts: with a mean of 0.5, ``[q5, q95]`` = [0,
    2] holds
    99% of the mass).

    Parameters
    ----------
    draws
        Predictive draws ``(S, n)``.
    y
        Observations ``(n,)``.
    """
    lo, hi = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    f_lt = np.mean(draws < y[None, :], axis=0)
    f_le = np.mean(draws <= y[None, :], axis=0)
    width = f_le - f_lt
    overlap = np.clip(np.minimum(f_le, hi) - np.maximum(f_lt, lo), 0.0, None)
    inside = ((f_le >= lo) & (f_le <= hi)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(width > 0, overlap / np.where(width > 0, width, 1.0), inside)


def predictive_checks(
    observed: Mapping[str, NDArray[np.float64]],
    predicted: Mapping[str, NDArray[np.float64]],
    platform: Sequence[str],
) -> dict[str, float]:
    """In-sample 90% coverage per quantity and predictive p-values of total conversions per
    platform.

    Coverage is :func:`pit_coverage` (exact for counts).

    Parameters
    ----------
    observed
        Observed values ``(n,)`` of ``conversions``, ``clicks``, ``paid_impressions`` for boosted
        posts.
    predicted
        Predictive draws ``(S, n)`` of the same quantities.
    platform
        Platform of each of the ``n`` posts.
    """
    out: dict[str, float] = {}
    for name in (C.CONVERSIONS, C.CLICKS, C.PAID_IMPRESSIONS):
        y = observed[name]
        draws = predicted[name]
        ok = np.isfinite(y)
        if not ok.any():
            continue
        out[f"coverage_90_{name}"] = float(np.mean(pit_coverage(draws[:, ok], y[ok])))
    plat = np.asarray(platform)
    y = observed[C.CONVERSIONS]
    for p in dict.fromkeys(plat.tolist()):
        m = (plat == p) & np.isfinite(y)
        if m.sum() == 0:
            continue
        tot = predicted[C.CONVERSIONS][:, m].sum(axis=1)
        obs = y[m].sum()
        # mid-p value: P(T > obs) + 0.5 P(T = obs)
        out[f"p_total_conversions_{p}"] = float(np.mean(tot > obs) + 0.5 * np.mean(tot == obs))
    return out


def assess(
    *,
    max_rhat: float,
    min_ess_bulk: float,
    min_ess_tail: float,
    divergences: int,
    approximate: bool,
    ppc: Mapping[str, float],
    method: str,
    n_chains: int,
    n_draws: int,
    fit_seconds: float,
    extra_warnings: Sequence[str] = (),
) -> Diagnostics:
    """Turn the numbers into a :class:`Diagnostics` with plain-language warnings.

    ``extra_warnings`` are informational notes about the fit (e.g. no organic data): reported, but
    they do
    not make the fit not-ok.
    """
    warnings: list[str] = []
    if approximate:
        label = (
            f"approximate fit ({method}): fast, but intervals are approximate and usually too "
            "narrow; refit with method='nuts' before acting on close calls"
        )
    else:
        if not np.isfinite(max_rhat) or max_rhat > RHAT_MAX:
            warnings.append(
                f"chains disagree (max r_hat {max_rhat:.3f} > {RHAT_MAX}): the posterior is not "
                "reliable; refit with more tune/draws or more chains"
            )
        if not np.isfinite(min_ess_bulk) or min_ess_bulk < ESS_MIN:
            warnings.append(
                f"too few effective draws (min bulk ESS {min_ess_bulk:.0f} < {ESS_MIN:.0f}): "
                "estimates are noisy; refit with more draws"
            )
        if not np.isfinite(min_ess_tail) or min_ess_tail < ESS_MIN:
            warnings.append(
                f"too few effective draws in the tails (min tail ESS {min_ess_tail:.0f} < "
                f"{ESS_MIN:.0f}): intervals are noisy; refit with more draws"
            )
        if divergences > 0:
            warnings.append(
                f"{divergences} divergent transitions: the sampler missed part of the posterior; "
                "refit with a higher target_accept (e.g. 0.95)"
            )
    for key, value in ppc.items():
        if key.startswith("coverage_90_") and value < PPC_COVERAGE_MIN:
            what = key.removeprefix("coverage_90_")
            warnings.append(
                f"the model explains {what} poorly: only {value:.0%} of observed {what} fall in "
                "their 90% predictive interval; check the data for outliers or mixed currencies"
            )
        if key.startswith("p_total_conversions_") and not (
            PPC_P_EXTREME <= value <= 1 - PPC_P_EXTREME
        ):
            plat = key.removeprefix("p_total_conversions_")
            side = "more" if value < 0.5 else "fewer"
            warnings.append(
                f"on {plat} the data show {side} conversions in total than the model expects "
                f"(predictive p-value {value:.3f}); the fit may be biased there"
            )
    ok = not warnings
    warnings = [*([label] if approximate else []), *extra_warnings, *warnings]
    return Diagnostics(
        max_rhat=float(max_rhat),
        min_ess_bulk=float(min_ess_bulk),
        min_ess_tail=float(min_ess_tail),
        divergences=int(divergences),
        ok=ok,
        warnings=warnings,
        approximate=bool(approximate),
        ppc={k: float(v) for k, v in ppc.items()},
        method=method,
        n_chains=int(n_chains),
        n_draws=int(n_draws),
        fit_seconds=float(fit_seconds),
    )
