"""The Scenarios page's what-ifs: what the user builds (:class:`Spec`), turned into
:class:`amplify.scenarios.Scenario` objects, compared, and shaped into the tables the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from amplify.ui.tables import fmt_count, fmt_money, fmt_prob, fmt_range

ALL = "all platforms"


@dataclass(frozen=True)
class Spec:
    """One what-if as the page builds it (plain values; kept in the session as a dict)."""

    name: str
    budget_pct: float = 0.0  #: budget change vs the baseline, in percent (0: same budget)
    shock_platform: str | None = None  #: a platform, ``ALL``, or None for no shock
    cpm_pct: float = 0.0  #: CPM change in percent (+20: CPMs 20% higher)
    cvr_pct: float = 0.0  #: conversion-rate change in percent
    lock_platform: str | None = None
    lock_amount: float = 0.0
    top_n: int = 0  #: keep only the best N posts (0: all); post level only

    def describe(self) -> str:
        """A one-line description, e.g. "budget +20% · tiktok CPM +30%"."""
        parts = []
        if self.budget_pct:
            parts.append(f"budget {self.budget_pct:+.0f}%")
        if self.shock_platform and (self.cpm_pct or self.cvr_pct):
            if self.cpm_pct:
                parts.append(f"{self.shock_platform} CPM {self.cpm_pct:+.0f}%")
            if self.cvr_pct:
                parts.append(f"{self.shock_platform} conversion rate {self.cvr_pct:+.0f}%")
        if self.lock_platform:
            parts.append(f"{self.lock_platform} locked at {fmt_money(self.lock_amount)}")
        if self.top_n:
            parts.append(f"only the top {self.top_n} posts")
        return " · ".join(parts) or "no change"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``st.session_state``."""
        return asdict(self)


def default_specs() -> list[Spec]:
    """What a first-time user sees: two common what-ifs."""
    return [
        Spec("Budget +20%", budget_pct=20.0),
        Spec("Instagram CPM +20%", shock_platform="instagram", cpm_pct=20.0),
    ]


def to_scenario(spec: Spec, base_budget: float) -> Any:
    """The validated :class:`amplify.scenarios.Scenario` of ``spec`` (or ``ValidationError``)."""
    from amplify.scenarios import Scenario

    kwargs: dict[str, Any] = {"name": spec.name}
    if spec.budget_pct:
        kwargs["budget"] = base_budget * (1.0 + spec.budget_pct / 100.0)
    if spec.shock_platform and (spec.cpm_pct or spec.cvr_pct):
        key = "all" if spec.shock_platform == ALL else spec.shock_platform
        kwargs["shocks"] = {key: {"cpm": spec.cpm_pct / 100.0, "cvr": spec.cvr_pct / 100.0}}
    if spec.lock_platform:
        kwargs["locks"] = {spec.lock_platform: float(spec.lock_amount)}
    if spec.top_n:
        kwargs["top_n_posts"] = int(spec.top_n)
    return Scenario(**kwargs)


def run_compare(
    curves: Any, specs: Sequence[Spec], base_constraints: Any, seed: int = 0
) -> pd.DataFrame:
    """:func:`amplify.scenarios.compare` on the page's specs (baseline first)."""
    from amplify.scenarios import compare

    scenarios = [to_scenario(s, float(base_constraints.budget)) for s in specs]
    return compare(curves, scenarios, base_constraints, rng=seed)


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """The ``"total"`` rows of a comparison, one per scenario, baseline first (numeric)."""
    return table[table["platform"] == "total"].reset_index(drop=True)


def summary_table(table: pd.DataFrame, specs: Sequence[Spec] = ()) -> pd.DataFrame:
    """The side-by-side comparison as text: one row per scenario, each number with its range."""
    what = {s.name: s.describe() for s in specs}
    rows = []
    for _, r in totals(table).iterrows():
        base = r["scenario"] == "baseline"
        rows.append(
            {
                "Scenario": r["scenario"],
                "What changes": "the plan as it stands" if base else what.get(r["scenario"], ""),
                "Spend": fmt_money(r["spend"], cents=False),
                "Conversions": fmt_count(r["conv_mean"]),
                "80% range": fmt_range(r["conv_p10"], r["conv_p90"]),
                "95% range": fmt_range(r["conv_p2_5"], r["conv_p97_5"]),
                "CPA": fmt_money(r["cpa_mean"]),
                "Change vs baseline": "" if base else f"{r['delta_conv_mean']:+,.1f}",
                "Change 80% range": ""
                if base
                else f"{r['delta_conv_p10']:+,.1f} – {r['delta_conv_p90']:+,.1f}",
                "P(better)": "" if base else fmt_prob(r["prob_better"], sampled=True),
                "Note": r.get("note", "") or "",
            }
        )
    out = pd.DataFrame(rows).set_index("Scenario")
    if not out["Note"].astype(bool).any():
        out = out.drop(columns="Note")
    return out


def spend_table(table: pd.DataFrame) -> pd.DataFrame:
    """Spend per platform (columns) for each scenario (rows), numeric."""
    per = table[table["platform"] != "total"]
    order = list(dict.fromkeys(table["scenario"]))
    out = per.pivot_table(index="scenario", columns="platform", values="spend", aggfunc="sum")
    return out.reindex(order)
