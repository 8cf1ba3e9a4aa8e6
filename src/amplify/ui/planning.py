"""From the Plan page's widgets to a plan with intervals, and from a plan to the page's tables.

:func:`plan_for` is the what-if re-plan: it takes response curves already computed from the cached
fitted model, so moving a slider never refits (see ``benchmarks/app_replan.py`` for its latency).
The settings go through :class:`amplify.pipeline.RecommendSettings`, so the app and the CLI validate
budgets and limits the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from amplify import constants as C
from amplify.ui.tables import fmt_count, fmt_money, fmt_prob, fmt_range

#: Allocation policies offered to the user -> policy names of :func:`amplify.allocate.get_policy`.
POLICIES: dict[str, str] = {
    "Thompson sampling (explores where it is cheap)": "thompson",
    "Best guess (posterior mean)": "greedy",
}


@dataclass(frozen=True)
class Limits:
    """One platform's limits from the page: ``min``, optional ``max``, optional ``lock`` amount."""

    min: float = 0.0
    max: float | None = None
    lock: float | None = None


@dataclass(frozen=True)
class PlanInputs:
    """Everything the Plan page asks for."""

    budget: float
    limits: Mapping[str, Limits] = field(default_factory=dict)
    max_change: float | None = None  #: fraction of the budget any platform may move vs ``previous``
    target_cpa: float | None = None
    policy: str = "thompson"
    seed: int = 0


def weeks_covered(posts: pd.DataFrame) -> float:
    """How many weeks the post table spans (by ``posted_at``; 4 when dates are missing)."""
    if C.POSTED_AT in posts:
        t = pd.to_datetime(posts[C.POSTED_AT], errors="coerce").dropna()
        if len(t) >= 2:
            return max((t.max() - t.min()).total_seconds() / (7 * 86400.0), 1.0)
    return 4.0


def default_budget(posts: pd.DataFrame) -> float:
    """A weekly budget in line with the account's history (rounded to 100; at least 100)."""
    spend = pd.to_numeric(posts[C.SPEND], errors="coerce")
    total = float(np.nansum(spend.to_numpy(dtype=float)))
    weekly = total / weeks_covered(posts)
    return float(max(100.0, round(weekly / 100.0) * 100.0))


def default_n_boosts(posts: pd.DataFrame) -> int:
    """Posts boosted per platform per week in the history (at least 1)."""
    spend = pd.to_numeric(posts[C.SPEND], errors="coerce").fillna(0.0)
    boosted = posts[spend > 0]
    if boosted.empty:
        return 1
    per_platform = boosted.groupby(C.PLATFORM, observed=True).size() / weeks_covered(posts)
    return max(1, round(float(per_platform.median())))


def current_split(posts: pd.DataFrame, platforms: Sequence[str], budget: float) -> dict[str, float]:
    """The budget split as the account has been spending lately (last 4 weeks of the data).

    Used as "the plan in use" for the max-change limit. Platforms without recent spend get 0; with
    no spend at all the split is even.
    """
    spend = pd.to_numeric(posts[C.SPEND], errors="coerce").fillna(0.0)
    frame = pd.DataFrame({"platform": posts[C.PLATFORM].astype(str), "spend": spend})
    if C.POSTED_AT in posts:
        t = pd.to_datetime(posts[C.POSTED_AT], errors="coerce")
        if t.notna().any():
            recent = t >= t.max() - pd.Timedelta(days=28)
            if float(frame.loc[recent, "spend"].sum()) > 0:
                frame = frame[recent]
    by = frame.groupby("platform")["spend"].sum().reindex(list(platforms), fill_value=0.0)
    if float(by.sum()) <= 0:
        return {p: budget / len(platforms) for p in platforms}
    return {str(p): float(budget * v / by.sum()) for p, v in by.items()}


def settings_for(
    inputs: PlanInputs, previous: Mapping[str, float] | None, platforms: Sequence[str]
) -> Any:
    """The :class:`amplify.pipeline.RecommendSettings` of the page's inputs (validated)."""
    from amplify.pipeline import RecommendSettings

    limits = {
        p: {"min": lim.min, "max": lim.max, "lock": lim.lock}
        for p, lim in inputs.limits.items()
        if p in platforms and (lim.min > 0 or lim.max is not None or lim.lock is not None)
    }
    use_prev = previous is not None and inputs.max_change is not None
    return RecommendSettings.model_validate(
        {
            "budget": inputs.budget,
            "platforms": limits,
            "max_change": inputs.max_change if use_prev else None,
            "previous": dict(previous) if use_prev and previous is not None else None,
            "target_cpa": inputs.target_cpa,
            "policy": inputs.policy,
            "seed": inputs.seed,
        }
    )


def plan_constraints(
    curves: Any, inputs: PlanInputs, previous: Mapping[str, float] | None = None
) -> Any:
    """The allocator's :class:`~amplify.allocate.Constraints` for the page's inputs."""
    from amplify.pipeline import build_constraints

    settings = settings_for(inputs, previous, list(dict.fromkeys(curves.platform)))
    return build_constraints(settings, curves)


def plan_for(curves: Any, inputs: PlanInputs, previous: Mapping[str, float] | None = None) -> Any:
    """The plan for ``inputs`` on already computed response ``curves`` (no model, no refit).

    Raises :class:`amplify.pipeline.SettingsError` / ``pydantic.ValidationError`` /
    ``ConstraintError`` with a readable message when the limits cannot be met (e.g. minimums above
    the budget).
    """
    from amplify.allocate import get_policy, make_plan

    constraints = plan_constraints(curves, inputs, previous)
    return make_plan(curves, constraints, policy=get_policy(inputs.policy), rng=inputs.seed)


def plan_table(plan: Any, currency: str = "$") -> pd.DataFrame:
    """The plan per platform plus a Total row, as readable text (what the page shows).

    Columns: Spend, Share, Conversions, 80% range, 95% range, CPA, CPA 80% range, Marginal CPA,
    P(best for next $). Every number comes with its interval.
    """
    pp = plan.per_platform
    tot = plan.total

    def money(x: Any) -> str:
        return fmt_money(x, currency)

    rows = {}
    for name, r in pp.iterrows():
        open_ = bool(np.isfinite(r["marginal_cpa"]))  # False: locked / at its maximum
        rows[str(name)] = {
            "Spend": fmt_money(r["spend"], currency, cents=False),
            "Share": f"{100 * r['share']:.0f}%",
            "Conversions": fmt_count(r["conv_mean"]),
            "80% range": fmt_range(r["conv_p10"], r["conv_p90"]),
            "95% range": fmt_range(r["conv_p2_5"], r["conv_p97_5"]),
            "CPA": money(r["cpa_mean"]),
            "CPA 80% range": fmt_range(r["cpa_p10"], r["cpa_p90"], money),
            "Marginal CPA": money(r["marginal_cpa"]) if open_ else "at its limit",
            "P(best for next $)": fmt_prob(r["prob_best"], sampled=True) if open_ else "–",
        }
    rows["Total"] = {
        "Spend": fmt_money(tot["spend"], currency, cents=False),
        "Share": "100%" if tot["spend"] > 0 else "0%",
        "Conversions": fmt_count(tot["conv_mean"]),
        "80% range": fmt_range(tot["conv_p10"], tot["conv_p90"]),
        "95% range": fmt_range(tot["conv_p2_5"], tot["conv_p97_5"]),
        "CPA": money(tot["cpa_mean"]),
        "CPA 80% range": fmt_range(tot["cpa_p10"], tot["cpa_p90"], money),
        "Marginal CPA": "",
        "P(best for next $)": "",
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "Platform"
    return out


def plan_export(plan: Any) -> pd.DataFrame:
    """The plan per platform plus a total row, numeric, for the CSV download."""
    pp = plan.per_platform.reset_index()
    total = {"platform": "total", **{k: plan.total.get(k) for k in pp.columns if k in plan.total}}
    return pd.concat([pp, pd.DataFrame([total])], ignore_index=True)


def plan_document(plan: Any, inputs: PlanInputs, dataset: str) -> dict[str, Any]:
    """The JSON download: the plan (per platform, arm, total, warnings) and what was asked."""
    return {
        "dataset": dataset,
        "inputs": {
            "budget": inputs.budget,
            "max_change": inputs.max_change,
            "target_cpa": inputs.target_cpa,
            "policy": inputs.policy,
            "seed": inputs.seed,
            "limits": {p: vars(lim) for p, lim in inputs.limits.items()},
        },
        "plan": plan.to_dict(),
    }
