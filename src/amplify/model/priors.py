"""Priors and sampler settings of the boost model: explicit, validated, overridable, stored with
the fit.

Both are pydantic models with ``extra="forbid"``; a misspelt field fails with a "did you mean" hint.
Priors are stated on natural scales (CPM in currency per 1000 impressions, rates as fractions) and
turned into
log/logit-scale hyperpriors in :mod:`amplify.model.build`.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import logit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _did_you_mean(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), sorted(known), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ValueError(f"{cls.__name__} has no setting {key!r}{hint}")
        return data


class Priors(_Strict):
    """Weakly informative priors on natural scales, plus the model's structural switches.

    Each pooled quantity (CPM, k, CTR, CVR, organic→paid effect) has a shared mean with prior median
    ``*_median`` and log/logit-scale sd ``*_sd``, and a between-platform sd with a boundary-avoiding
    LogNormal prior of median ``*_platform_sd`` (log-sd 0.5). View-through (weakly identified) is
    independent per platform. Format and segment effects are zero-sum with scales likewise
    LogNormal, of median ``format_sd`` / ``segment_sd`` (log-sd 0.5).

    Parameters
    ----------
    use_organic
        Use organic signals through the latent resonance. ``False`` gives the pooled baseline: no
        organic
        likelihood and no organic→paid effect (used for the held-out comparison).
    use_shares
        Use shares per engagement as a further organic indicator of resonance. ``"auto"`` (default)
        uses them whenever the table has shares; ``True`` always, ``False`` never. Posts typically
        have few shares, so the indicator is the empirical logit corrected for its exact
        small-count bias, with its exact variance (see
        :func:`amplify.model.transforms.binomial_logit_moments`): the plain normal approximation
        was biased there (33% interval coverage of the shares intercept in the recovery study).
    """

    # paid impressions
    cpm_median: float = Field(default=8.0, gt=0, description="currency per 1000 paid impressions")
    cpm_sd: float = Field(default=0.7, gt=0)
    cpm_platform_sd: float = Field(default=0.5, gt=0)
    k_spend_multiple: float = Field(
        default=2.0, gt=0, description="prior median of k as a multiple of the median boost spend"
    )
    k_sd: float = Field(default=1.0, gt=0)
    k_platform_sd: float = Field(default=0.5, gt=0)
    impr_noise_sd: float = Field(
        default=0.5, gt=0, description="HalfNormal scale of the impression noise"
    )
    # clicks
    ctr_median: float = Field(default=0.01, gt=0, lt=1)
    ctr_sd: float = Field(default=1.0, gt=0)
    ctr_platform_sd: float = Field(default=0.5, gt=0)
    ctr_noise_sd: float = Field(
        default=0.5, gt=0, description="HalfNormal scale of post-level CTR noise"
    )
    segment_sd: float = Field(
        default=0.3,
        gt=0,
        description="prior median of the segment-effect scale (LogNormal, log sd 0.5)",
    )
    # organic
    er_median: float = Field(default=0.02, gt=0, lt=1, description="organic engagement rate")
    er_sd: float = Field(default=1.5, gt=0)
    resonance_er_median: float = Field(
        default=0.5, gt=0, description="organic ER logit per SD of resonance"
    )
    resonance_er_sd: float = Field(default=0.75, gt=0)
    share_rate_median: float = Field(default=0.1, gt=0, lt=1, description="shares per engagement")
    share_rate_sd: float = Field(default=1.5, gt=0)
    shares_loading_sd: float = Field(default=0.5, gt=0)
    reach_median: float = Field(
        default=3000.0, gt=0, description="prior median of a post's organic impressions"
    )
    reach_sd: float = Field(default=2.0, gt=0)
    reach_loading_sd: float = Field(
        default=0.5, gt=0, description="prior sd of log organic impressions per SD of resonance"
    )
    reach_noise_sd: float = Field(
        default=1.0, gt=0, description="HalfNormal scale of the reach noise"
    )
    format_sd: float = Field(
        default=0.5,
        gt=0,
        description="prior median of the format-effect scale (LogNormal, log sd 0.5)",
    )
    organic_effect_sd: float = Field(
        default=0.5,
        gt=0,
        description="prior sd of the shared organic→paid effect (CTR logit per SD)",
    )
    organic_effect_platform_sd: float = Field(default=0.3, gt=0)
    # conversions
    cvr_median: float = Field(default=0.03, gt=0, lt=1)
    cvr_sd: float = Field(default=1.0, gt=0)
    cvr_platform_sd: float = Field(default=0.5, gt=0)
    view_through_median: float = Field(
        default=5e-5, gt=0, lt=1, description="conversions per impression"
    )
    view_through_sd: float = Field(default=1.0, gt=0)
    overdispersion_median: float = Field(
        default=0.25, gt=0, description="prior median of 1/sqrt(NegBin alpha) (lognormal prior)"
    )
    overdispersion_sd: float = Field(default=0.7, gt=0)
    # revenue
    value_median: float = Field(default=50.0, gt=0, description="revenue per conversion")
    value_sd: float = Field(default=1.5, gt=0)
    value_noise_sd: float = Field(default=0.5, gt=0)
    # structure
    use_organic: bool = True
    use_shares: bool | Literal["auto"] = "auto"


class SamplerConfig(_Strict):
    """How to fit: NUTS (nutpie by default, PyMC's own as fallback) or a fast approximation.

    ``adaptation`` is nutpie's mass-matrix adaptation: ``"low_rank"`` (default) learns the few
    strong posterior correlations (CPM vs saturation spend, CVR vs view-through) and gives 2-3x the
    effective draws per second of ``"diag"`` on this model.

    ``method="advi"`` (mean-field ADVI via ``pm.fit``) and ``method="pathfinder"`` are approximate:
    the fit is
    labelled ``approximate=True`` in its diagnostics with a warning. Pathfinder needs
    ``pymc-extras``; without
    it amplify falls back to ADVI and says so.
    """

    method: Literal["nuts", "advi", "pathfinder"] = "nuts"
    nuts_sampler: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(default=1000, ge=10)
    tune: int = Field(default=1000, ge=0)
    chains: int = Field(default=2, ge=1)
    cores: int | None = Field(default=None, ge=1)
    target_accept: float = Field(default=0.9, gt=0, lt=1)
    adaptation: Literal["low_rank", "diag"] = "low_rank"
    seed: int = 0
    advi_iterations: int = Field(default=20_000, ge=100)


# --- parameter blocks of the model (see amplify.model.build)
# -----------------------------------------
#: Log-scale sd of the boundary-avoiding LogNormal priors on scales: the between-platform sds and
#: the format and segment effect scales (medians ``*_platform_sd``, ``format_sd``, ``segment_sd``).
SCALE_LOG_SD = 0.5
#: Partially pooled platform parameters, in block order.
POOLED: tuple[str, ...] = ("log_cpm", "log_k", "ctr_logit", "cvr_logit", "organic_effect")
#: Independent per-platform coefficients (normal priors), in block order.
COEFS: tuple[str, ...] = (
    "er_logit",
    "log_resonance_er",
    "reach_log",
    "reach_loading",
    "share_logit",
    "shares_loading",
    "log_view_through",
    "value_log",
    "log_inv_sqrt_alpha",
)
#: Per-platform noise sds (HalfNormal priors), in block order.
NOISES: tuple[str, ...] = ("impr_sigma", "ctr_sigma", "value_sigma", "reach_sigma")


def pooled_names(priors: Priors) -> tuple[str, ...]:
    """Pooled parameters present under these priors (no organic effect in the pooled baseline)."""
    return POOLED if priors.use_organic else POOLED[:-1]


def coef_names(priors: Priors) -> tuple[str, ...]:
    """Independent per-platform coefficients present under these priors."""
    organic = COEFS[:4] if priors.use_organic else ()
    shares = COEFS[4:6] if (priors.use_organic and priors.use_shares is True) else ()
    return (*organic, *shares, *COEFS[6:])


def noise_names(priors: Priors) -> tuple[str, ...]:
    """Noise sds present under these priors (the reach noise only with organic signals)."""
    return NOISES if priors.use_organic else NOISES[:3]


def prior_table(
    priors: Priors, log_k_center: Any = math.nan
) -> tuple[dict[str, tuple[Any, float, float]], dict[str, tuple[float, float]], dict[str, float]]:
    """Centers and scales of every prior block, keyed by parameter name.

    Returns ``(pooled, coefs, noises)``: pooled parameters as ``(center, sd, platform_sd)``,
    independent per-platform coefficients as ``(center, sd)``, noise sds as the HalfNormal scale.
    The center of ``log_k`` comes from the data (``log_k_center``, a number or a tensor). Every
    parameter is listed; :func:`pooled_names`, :func:`coef_names` and :func:`noise_names` say which
    are present under ``priors``.
    """
    pooled = {
        "log_cpm": (math.log(priors.cpm_median), priors.cpm_sd, priors.cpm_platform_sd),
        "log_k": (log_k_center, priors.k_sd, priors.k_platform_sd),
        "ctr_logit": (logit(priors.ctr_median), priors.ctr_sd, priors.ctr_platform_sd),
        "cvr_logit": (logit(priors.cvr_median), priors.cvr_sd, priors.cvr_platform_sd),
        "organic_effect": (0.0, priors.organic_effect_sd, priors.organic_effect_platform_sd),
    }
    coefs = {
        "er_logit": (logit(priors.er_median), priors.er_sd),
        "log_resonance_er": (math.log(priors.resonance_er_median), priors.resonance_er_sd),
        "reach_log": (math.log(priors.reach_median), priors.reach_sd),
        "reach_loading": (0.0, priors.reach_loading_sd),
        "share_logit": (logit(priors.share_rate_median), priors.share_rate_sd),
        "shares_loading": (0.0, priors.shares_loading_sd),
        "log_view_through": (math.log(priors.view_through_median), priors.view_through_sd),
        "value_log": (math.log(priors.value_median), priors.value_sd),
        "log_inv_sqrt_alpha": (math.log(priors.overdispersion_median), priors.overdispersion_sd),
    }
    noises = {
        "impr_sigma": priors.impr_noise_sd,
        "ctr_sigma": priors.ctr_noise_sd,
        "value_sigma": priors.value_noise_sd,
        "reach_sigma": priors.reach_noise_sd,
    }
    return pooled, coefs, noises
