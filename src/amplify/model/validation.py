"""Statistical validation of the boost model on simulated worlds with a known truth.

Used by the test suite (a few small worlds) and ``benchmarks/recovery.py`` (twenty or more):
parameter
recovery (do the 90% intervals of platform-level parameters cover the truth?), held-out calibration
(do the
90% predictive intervals of held-out boosts' conversions cover them?) and the held-out log
predictive
density against the pooled baseline without the organic signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import logit

from amplify import constants as C
from amplify.model.diagnostics import pit_coverage

if TYPE_CHECKING:
    from amplify.model.boost import BoostModel
    from amplify.simulate import WorldTruth

#: Revenue per conversion noise of :class:`amplify.simulate.World` (``exp(0.2 * N(0, 1))``).
SIM_VALUE_SIGMA = 0.2


def truth_parameters(truth: WorldTruth, model: BoostModel) -> pd.DataFrame:
    """True platform-level parameters on the model's scale (``parameter, platform, truth``).

    The model's format and segment effects sum to zero, so its intercepts absorb the truth's
    average format
    effect (times the resonance loading) and average segment effect.
    """
    fmt = np.mean([truth.format_effects.get(f, 0.0) for f in model.formats_])
    seg_levels = model.levels_.segments.get("audience", ())
    seg = np.mean([truth.segment_ctr.get(s, 0.0) for s in seg_levels]) if seg_levels else 0.0
    rows = []
    for p in model.platforms_:
        q = truth.platforms[p]
        values: dict[str, float] = {
            "cpm": q.cpm,
            "k": q.k,
            "impr_sigma": q.impr_sigma,
            "ctr_logit": float(
                q.ctr_logit + seg + (q.resonance_ctr * fmt if model.organic_used_ else 0.0)
            ),
            "ctr_sigma": q.ctr_sigma,
            "cvr": q.cvr,
            "view_through": q.view_through,
            "conv_alpha": q.conv_alpha,
            "value_log": float(np.log(q.value)),
            "value_sigma": SIM_VALUE_SIGMA,
        }
        if model.organic_used_:
            values |= {
                "organic_effect": q.resonance_ctr,
                "er_logit": float(q.er_logit + q.resonance_er * fmt),
                "resonance_er": q.resonance_er,
            }
            if model.priors_.use_shares:
                values |= {"share_logit": float(logit(q.share_rate)), "shares_loading": 0.0}
        rows += [{"parameter": k, C.PLATFORM: p, "truth": v} for k, v in values.items()]
    return pd.DataFrame(rows)


def interval_coverage(model: BoostModel, truth: pd.DataFrame, prob: float = 0.9) -> pd.DataFrame:
    """Central ``prob`` posterior interval of each true parameter and whether it covers it."""
    post = model.idata_["posterior"]
    a = (1.0 - prob) / 2.0
    out = []
    for _, row in truth.iterrows():
        x = np.asarray(post[row["parameter"]].sel(platform=row[C.PLATFORM]).values).ravel()
        lo, hi = np.quantile(x, [a, 1.0 - a])
        out.append(
            {
                **row.to_dict(),
                "mean": float(x.mean()),
                "lo": float(lo),
                "hi": float(hi),
                "covered": bool(lo <= row["truth"] <= hi),
            }
        )
    return pd.DataFrame(out)


def split_posts(
    posts: pd.DataFrame, train_share: float = 0.8, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random split of a post table into a training and a held-out part."""
    rng = np.random.default_rng(seed)
    mask = rng.random(len(posts)) < train_share
    return posts.loc[mask].copy(), posts.loc[~mask].copy()


def heldout_checks(
    model: BoostModel, baseline: BoostModel | None, test: pd.DataFrame, *, seed: int = 0
) -> dict[str, Any]:
    """Calibration and predictive density of the held-out boosted posts.

    Returns
    -------
    dict
        ``n`` (held-out boosts), ``coverage_90`` (exact for counts, see
        :func:`amplify.model.diagnostics.pit_coverage`), ``coverage_90_inclusive`` (share inside the
        inclusive ``[q5, q95]`` interval, which over-covers small counts), and with a baseline the
        summed
        held-out log predictive density of impressions, clicks and conversions: ``lpd_model``,
        ``lpd_baseline``, ``elpd_diff`` (model - baseline) and its standard error ``elpd_diff_se``.
    """
    boosted = test.loc[pd.to_numeric(test[C.SPEND], errors="coerce").fillna(0) > 0]
    y = boosted[C.CONVERSIONS].to_numpy(dtype=float)
    draws = model.predict(boosted, seed=seed)[C.CONVERSIONS].values
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    out: dict[str, Any] = {
        "n": len(boosted),
        "coverage_90": float(np.mean(pit_coverage(draws, y))),
        "coverage_90_inclusive": float(np.mean((y >= lo) & (y <= hi))),
    }
    if baseline is not None:
        lpd_m = model.heldout_lpd(boosted)
        lpd_b = baseline.heldout_lpd(boosted)
        diff = lpd_m - lpd_b
        out |= {
            "lpd_model": float(lpd_m.sum()),
            "lpd_baseline": float(lpd_b.sum()),
            "elpd_diff": float(diff.sum()),
            "elpd_diff_se": float(np.sqrt(len(diff)) * diff.std(ddof=1)) if len(diff) > 1 else 0.0,
        }
    return out
