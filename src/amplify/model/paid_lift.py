"""What a page export with a Paid flag but no spend supports: the paid lift in reach beyond the
fans, and
whether it grows with how much a post resonates with the fans.

The UCI "Facebook metrics" data (500 posts of one cosmetics brand's page, 2014) has, per post, a
Paid flag,
lifetime reach and impressions in total and among the page's fans, and the number of fans who
engaged. It has
no spend, clicks or conversions, so the full boost model does not apply; this small model
(:func:`amplify.model.build.build_paid_lift_model`) answers the organic→paid question it can:

* resonance: the fans' engagement rate (engaged fans / fans reached) measures a latent resonance
per post;
* outcome: log reach (or impressions) beyond the fans, where paid distribution shows up;
* estimands: the paid lift at typical resonance, how it changes per SD of resonance, and the
organic effect
  of resonance on non-fan reach.

It is observational: paid posts were chosen by the page team, so the lift is an association
adjusted for
post type, page size and fan resonance, not a randomised effect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from amplify.model.transforms import empirical_logit

ENGAGED_FANS = "Lifetime People who have liked your Page and engaged with your post"
FAN_REACH = "Lifetime Post reach by people who like your Page"
FAN_IMPRESSIONS = "Lifetime Post Impressions by people who have liked your Page"
TOTAL_REACH = "Lifetime Post Total Reach"
TOTAL_IMPRESSIONS = "Lifetime Post Total Impressions"
PAGE_LIKES = "Page total likes"
OUTCOMES = {
    "nonfan_reach": (TOTAL_REACH, FAN_REACH),
    "nonfan_impressions": (TOTAL_IMPRESSIONS, FAN_IMPRESSIONS),
}


@dataclass(frozen=True)
class PaidLiftData:
    """Model arrays for one outcome (see :func:`prepare`)."""

    y: np.ndarray
    v: np.ndarray
    z: np.ndarray
    paid: np.ndarray
    kind: np.ndarray
    kinds: list[str]
    covariate: np.ndarray
    n_dropped: int


def load_uci(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the UCI Facebook page-posts CSV (comma separated) as is."""
    return pd.read_csv(path)


def prepare(df: pd.DataFrame, outcome: str = "nonfan_reach") -> PaidLiftData:
    """Arrays for :func:`amplify.model.build.build_paid_lift_model` (incomplete rows dropped)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
    total, fans = OUTCOMES[outcome]
    needed = ["Paid", "Type", ENGAGED_FANS, FAN_REACH, PAGE_LIKES, total, fans]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing; is this the UCI Facebook metrics file?")
    keep = df[needed].notna().all(axis=1) & (df[FAN_REACH] > 0)
    d = df.loc[keep]
    y, v = empirical_logit(d[ENGAGED_FANS].to_numpy(float), d[FAN_REACH].to_numpy(float))
    beyond = np.maximum(d[total].to_numpy(float) - d[fans].to_numpy(float), 0.0)
    kinds = sorted(d["Type"].astype(str).unique())
    likes = np.log(d[PAGE_LIKES].to_numpy(float))
    return PaidLiftData(
        y=y,
        v=v,
        z=np.log1p(beyond),
        paid=d["Paid"].to_numpy(float),
        kind=d["Type"].astype(str).map({k: i for i, k in enumerate(kinds)}).to_numpy(),
        kinds=kinds,
        covariate=likes - likes.mean(),
        n_dropped=int((~keep).sum()),
    )


def fit_paid_lift(
    data: PaidLiftData, *, draws: int = 1000, tune: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Fit with nutpie and summarise: posterior means, 90% intervals, P(> 0), diagnostics."""
    import arviz as az
    import pymc as pm

    from amplify.model.build import build_paid_lift_model

    model = build_paid_lift_model(
        data.y, data.v, data.z, data.paid, data.kind, data.kinds, data.covariate
    )
    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=2,
            random_seed=seed,
            progressbar=False,
            nuts_sampler="nutpie",
            target_accept=0.97,
        )
    post = idata["posterior"]

    def summ(x: np.ndarray) -> dict[str, float]:
        x = np.asarray(x).ravel()
        return {
            "mean": float(x.mean()),
            "lo90": float(np.quantile(x, 0.05)),
            "hi90": float(np.quantile(x, 0.95)),
            "prob_positive": float(np.mean(x > 0)),
        }

    gamma = post["paid_lift_log"].values
    b0 = post["resonance_effect"].values
    b1 = post["paid_x_resonance"].values
    tau = post["tau"].values
    names = [
        "a_y",
        "tau",
        "a_z",
        "covariate_effect",
        "paid_lift_log",
        "resonance_effect",
        "paid_x_resonance",
        "sigma",
    ]
    rhat = az.rhat(idata, var_names=names)
    ess = az.ess(idata, var_names=names)
    return {
        "n_posts": len(data.y),
        "n_paid": int(data.paid.sum()),
        "n_dropped": data.n_dropped,
        "paid_lift_factor": summ(np.exp(gamma)),
        "paid_x_resonance": summ(b1),
        "paid_lift_factor_at_plus_1sd": summ(np.exp(gamma + b1)),
        "paid_lift_factor_at_minus_1sd": summ(np.exp(gamma - b1)),
        "resonance_effect_unpaid": summ(b0),
        "resonance_effect_paid": summ(b0 + b1),
        "paid_x_fan_er_logit": summ(b1 / tau),
        "tau": summ(tau),
        "max_rhat": float(max(float(rhat[v].max()) for v in names)),
        "min_ess_bulk": float(min(float(ess[v].min()) for v in names)),
        "divergences": int(np.asarray(idata["sample_stats"]["diverging"].values).sum()),
    }
