"""Tables the Model page shows about a fitted model: worst-diagnosed parameters, the
organic→paid effect, ranked candidate posts. Pure functions of model outputs (no Streamlit)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from amplify.ui.tables import fmt_prob

log = logging.getLogger(__name__)


def n_samples(model: Any) -> int | None:
    """Total posterior draws (chains x draws) of a fitted model, when it has a posterior."""
    try:
        sizes = model.idata_["posterior"].sizes
        return int(sizes["chain"]) * int(sizes["draw"])
    except Exception:
        return None


def diagnostics_summary(model: Any, n: int = 15) -> pd.DataFrame | None:
    """The ``n`` parameters with the highest r_hat (then lowest ESS), from ``arviz.summary``.

    ``None`` for an approximate fit (no chains to compare) or when the summary cannot be computed.
    """
    if getattr(getattr(model, "diagnostics_", None), "approximate", False):
        return None
    try:
        import arviz as az

        s = az.summary(model.idata_, kind="diagnostics", round_to="none")
    except Exception:  # diagnostics are informative extras: never fail the page on them
        log.warning("arviz.summary failed", exc_info=True)
        return None
    s = s.reset_index(names="parameter")
    s = s.sort_values(["r_hat", "ess_bulk"], ascending=[False, True]).head(n)
    return s[["parameter", "r_hat", "ess_bulk", "ess_tail"]].reset_index(drop=True)


def organic_table(effect: pd.DataFrame) -> pd.DataFrame:
    """The organic→paid effect per platform in words and numbers."""
    rows = []
    for _, r in effect.iterrows():
        p = float(r["prob_positive"])
        if p >= 0.95:
            verdict = "clearly positive: boost the posts that do well organically"
        elif p >= 0.8:
            verdict = "probably positive"
        elif p <= 0.05:
            verdict = "clearly negative"
        else:
            verdict = "unclear: organic success says little about paid results here"
        rows.append(
            {
                "Platform": r["platform"],
                "Effect": f"{r['effect_mean']:+.2f}",
                "90% interval": f"{r['lo90']:+.2f} – {r['hi90']:+.2f}",
                "P(positive)": fmt_prob(p, sampled=True),
                "Reading": verdict,
            }
        )
    return pd.DataFrame(rows).set_index("Platform")


def candidates_table(ranked: pd.DataFrame, top: int = 25) -> pd.DataFrame:
    """The best ``top`` candidate posts: expected conversions per $100 with their 90% interval."""
    r = ranked.sort_values("rank").head(top)
    return pd.DataFrame(
        {
            "Rank": r["rank"].astype(int).to_numpy(),
            "Post": r["post_id"].astype(str).to_numpy(),
            "Platform": r["platform"].astype(str).to_numpy(),
            "Conversions per $100": r["conv_per_100_mean"].round(2).to_numpy(),
            "90% low": r["conv_per_100_lo"].round(2).to_numpy(),
            "90% high": r["conv_per_100_hi"].round(2).to_numpy(),
            "P(top 10%)": [fmt_prob(p, sampled=True) for p in r["prob_top_decile"]],
        }
    )
