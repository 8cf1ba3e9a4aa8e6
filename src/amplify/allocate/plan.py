"""A plan and what it should bring: spend per arm and platform, conversions and CPA with intervals.

Every number comes from all posterior draws evaluated at the chosen spend, so the intervals are the
posterior's, not a normal approximation. :func:`summarize` explains any spend vector (a policy's, or
one typed in by hand); :func:`make_plan` runs a policy and summarises its choice.

Columns (per arm, per platform and in :attr:`Plan.total`): ``spend``; ``conv_mean`` and the 80% /
95% intervals ``conv_p10``, ``conv_p90``, ``conv_p2_5``, ``conv_p97_5``; ``cpa_mean`` (spend /
expected conversions) and the same intervals of the CPA; ``marginal_cpa`` (cost of one more
conversion at the margin: 1 / posterior-mean marginal return; per platform, at its best arm that can
still take spend) with its 80% interval; ``prob_best`` (share of draws in which the platform has the
highest marginal return: the best place for the next unit of budget; arms at their upper bound
cannot take it); and with revenue per conversion, ``revenue_*`` and ``roas_*``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from amplify.allocate.constraints import Compiled, Constraints, compile_constraints
from amplify.curves import ResponseCurves

if TYPE_CHECKING:
    from amplify.allocate.policies import Policy

__all__ = ["EXTRAPOLATION_WARN", "Plan", "make_plan", "summarize"]

FloatArray = NDArray[np.float64]

#: Spend above this multiple of the largest spend observed on an arm is flagged as an extrapolation.
EXTRAPOLATION_WARN = 3.0
_QUANTILES = {"p10": 0.10, "p90": 0.90, "p2_5": 0.025, "p97_5": 0.975}
_MAX_LISTED = 5


def quantiles(x: FloatArray, qs: list[float], axis: int = 0) -> FloatArray:
    """``np.quantile`` tolerating infinite values (an infinite CPA when a draw expects nothing)."""
    big = np.finfo(float).max / 4
    q = np.quantile(np.clip(x, -big, big), qs, axis=axis)
    return np.where(q >= big, np.inf, np.where(q <= -big, -np.inf, q))


def _stats(prefix: str, draws: FloatArray) -> dict[str, FloatArray]:
    """Mean and quantiles over axis 0 of ``draws`` (n_draws, m)."""
    out = {f"{prefix}_mean": draws.mean(axis=0)}
    qs = np.quantile(draws, list(_QUANTILES.values()), axis=0)
    for name, q in zip(_QUANTILES, qs, strict=True):
        out[f"{prefix}_{name}"] = q
    return out


def _ratio_stats(prefix: str, num: FloatArray, den_draws: FloatArray) -> dict[str, FloatArray]:
    """Stats of ``num / den`` where only ``den`` varies by draw (CPA = spend / conversions)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(den_draws.mean(axis=0) > 0, num / den_draws.mean(axis=0), np.nan)
        per_draw = np.where(den_draws > 0, num / den_draws, np.inf)
    out = {f"{prefix}_mean": mean}
    qs = quantiles(per_draw, list(_QUANTILES.values()), axis=0)
    for name, q in zip(_QUANTILES, qs, strict=True):
        out[f"{prefix}_{name}"] = np.where(num > 0, q, np.nan)
    return out


def _group_sum(x: FloatArray, codes: NDArray[np.int64], n_groups: int) -> FloatArray:
    """Sum the last axis of ``x`` by group code: (..., n_arms) -> (..., n_groups)."""
    onehot = np.zeros((codes.size, n_groups))
    onehot[np.arange(codes.size), codes] = 1.0
    return np.asarray(x @ onehot, dtype=float)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _listed(items: list[str]) -> str:
    if len(items) <= _MAX_LISTED:
        return "; ".join(items)
    return "; ".join(items[:_MAX_LISTED]) + f"; and {len(items) - _MAX_LISTED} more"


@dataclass(frozen=True)
class Plan:
    """Spend per arm with what it is expected to bring (see the module docstring for the columns).

    Attributes
    ----------
    arms, platform
        Arm names and their platforms, as in the curves.
    spend
        Spend per arm, shape ``(n_arms,)``.
    budget
        The budget the plan was made for (the plan spends less only under a CPA/ROAS target).
    per_arm, per_platform
        Tables indexed by arm / platform.
    total
        The same statistics for the whole plan.
    warnings
        Extrapolations, binding constraints, widened soft limits, a target that stopped spending.
    policy
        Name of the policy that chose the spend.
    """

    arms: tuple[str, ...]
    platform: tuple[str, ...]
    spend: FloatArray
    budget: float
    per_arm: pd.DataFrame
    per_platform: pd.DataFrame
    total: pd.Series
    warnings: list[str] = field(default_factory=list)
    policy: str = "manual"

    @property
    def spend_by_arm(self) -> dict[str, float]:
        """Spend per arm as a plain dict (what ``Constraints.previous`` takes for the next plan)."""
        return {a: float(s) for a, s in zip(self.arms, self.spend, strict=True)}

    @property
    def spend_by_platform(self) -> dict[str, float]:
        """Spend per platform as a plain dict."""
        return {str(p): float(v) for p, v in self.per_platform["spend"].items()}

    def to_frame(self) -> pd.DataFrame:
        """One row per arm: ``arm``, ``platform``, ``spend`` and the statistics."""
        return self.per_arm.reset_index()

    def to_dict(self) -> dict[str, Any]:
        """The whole plan as JSON-ready plain Python (NaN and infinities become None)."""
        return {
            "policy": self.policy,
            "budget": _clean(self.budget),
            "spend": {a: _clean(s) for a, s in zip(self.arms, self.spend, strict=True)},
            "per_arm": _records(self.per_arm.reset_index()),
            "per_platform": _records(self.per_platform.reset_index()),
            "total": {str(k): _clean(v) for k, v in self.total.items()},
            "warnings": list(self.warnings),
        }


def _clean(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _warnings(
    curves: ResponseCurves, c: Constraints | None, comp: Compiled | None, spend: FloatArray
) -> list[str]:
    out: list[str] = []
    budget = float(c.budget) if c is not None else float(spend.sum())
    tol = 1e-6 * max(budget, 1.0)
    if curves.max_observed_spend is not None:
        seen = np.asarray(curves.max_observed_spend, dtype=float)
        items = []
        for j in np.flatnonzero(spend > EXTRAPOLATION_WARN * seen + tol):
            ratio = spend[j] / seen[j] if seen[j] > 0 else math.inf
            times = f"{ratio:.1f}×" if math.isfinite(ratio) else "far beyond"
            items.append(
                f"{curves.arms[j]}: {_money(spend[j])} is {times} the largest spend observed "
                f"({_money(seen[j])})"
            )
        if items:
            out.append(
                "extrapolation — the curve is not backed by data there: "
                + _listed(items)
                + " (cap it with Constraints.max_extrapolation)"
            )
    if comp is not None:
        out.extend(comp.notes)
    if c is None:
        return out
    total = float(spend.sum())
    if total < budget - tol:
        target = (
            f"the marginal CPA would exceed the target {_money(c.target_cpa)}"
            if c.target_cpa is not None
            else f"the marginal ROAS would fall below the target {c.target_roas}"
        )
        out.append(f"spends {_money(total)} of the budget {_money(budget)}: beyond that {target}")
    plat = np.asarray(curves.platform)
    for name, b in c.bounds.items():
        on = plat == name
        if not on.any():
            continue
        s_p = float(spend[on].sum())
        if b.lock is not None:
            out.append(f"{name} is locked at {_money(b.lock)}")
        elif b.max is not None and s_p >= b.max - tol:
            out.append(f"{name} is at its maximum {_money(b.max)}")
        elif b.min > 0 and s_p <= b.min + tol:
            out.append(f"{name} is at its minimum {_money(b.min)}")
    if comp is not None and comp.previous is not None and c.max_change is not None:
        delta = float(c.max_change) * budget
        moved = np.abs(spend - comp.previous)
        at_limit = [curves.arms[j] for j in np.flatnonzero(moved >= delta - tol) if delta > 0]
        if at_limit:
            out.append(
                f"max_change ({100 * c.max_change:.0f}% of the budget) limits: "
                + ", ".join(at_limit[:10])
            )
    return out


def summarize(
    curves: ResponseCurves,
    spend: ArrayLike,
    c: Constraints | None = None,
    *,
    policy: str = "manual",
) -> Plan:
    """The :class:`Plan` for a given spend per arm: every posterior draw evaluated at it.

    Parameters
    ----------
    curves
        Posterior draws of the response curves.
    spend
        Spend per arm, shape ``(n_arms,)``.
    c
        The constraints the spend was chosen under (for warnings about binding constraints;
        optional).
    policy
        Name recorded in the plan.
    """
    s = np.asarray(spend, dtype=float).reshape(curves.n_arms)
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("spend must be finite and non-negative for every arm")
    comp = compile_constraints(curves, c) if c is not None else None
    conv = curves.conversions(s)  # (D, n)
    marg = curves.marginal(s)
    plat_names = list(dict.fromkeys(curves.platform))
    codes = np.array([plat_names.index(p) for p in curves.platform], dtype=np.int64)
    n_p = len(plat_names)

    # --- per arm ----------------------------------------------------------------------------------
    arm_cols: dict[str, Any] = {"platform": list(curves.platform), "spend": s}
    arm_cols.update(_stats("conv", conv))
    arm_cols.update(_ratio_stats("cpa", s, conv))
    mean_marg = marg.mean(axis=0)
    with np.errstate(divide="ignore"):
        arm_cols["marginal_cpa"] = np.where(mean_marg > 0, 1.0 / mean_marg, np.inf)
    if curves.value is not None:
        rev = conv * curves.value
        arm_cols.update(_stats("revenue", rev))
        arm_cols.update(_roas(s, rev))
    if curves.max_observed_spend is not None:
        seen = np.asarray(curves.max_observed_spend, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            arm_cols["x_observed"] = np.where(seen > 0, s / seen, np.where(s > 0, np.inf, 0.0))
    per_arm = pd.DataFrame(arm_cols, index=pd.Index(list(curves.arms), name="arm"))

    # --- per platform -----------------------------------------------------------------------------
    conv_p = _group_sum(conv, codes, n_p)
    spend_p = _group_sum(s, codes, n_p)
    headroom = np.ones(curves.n_arms, dtype=bool)
    if comp is not None:
        headroom = s < comp.hi - 1e-9 * max(comp.budget, 1.0)
        if comp.min_per_arm > 0:
            headroom &= (s > 0) | (comp.hi >= comp.min_per_arm)
    marg_open = np.where(headroom[None, :], marg, -np.inf)
    best_p = np.full((curves.n_draws, n_p), -np.inf)
    for i in range(n_p):
        on = codes == i
        best_p[:, i] = marg_open[:, on].max(axis=1)
    can_take = np.isfinite(best_p).all(axis=0)
    winner = np.argmax(best_p, axis=1)
    prob_best = np.bincount(winner, minlength=n_p) / curves.n_draws
    prob_best = np.where(can_take, prob_best, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc_draws = np.where(best_p > 0, 1.0 / best_p, np.inf)
        mean_best = np.where(
            can_take, np.where(np.isfinite(best_p), best_p, 0.0).mean(axis=0), np.nan
        )
        plat_cols: dict[str, Any] = {
            "spend": spend_p,
            "share": spend_p / s.sum() if s.sum() > 0 else np.zeros(n_p),
        }
    plat_cols.update(_stats("conv", conv_p))
    plat_cols.update(_ratio_stats("cpa", spend_p, conv_p))
    with np.errstate(divide="ignore", invalid="ignore"):
        plat_cols["marginal_cpa"] = np.where(mean_best > 0, 1.0 / mean_best, np.nan)
    mq = quantiles(mc_draws, [0.1, 0.9], axis=0)
    plat_cols["marginal_cpa_p10"] = np.where(can_take, mq[0], np.nan)
    plat_cols["marginal_cpa_p90"] = np.where(can_take, mq[1], np.nan)
    plat_cols["prob_best"] = prob_best
    plat_cols["n_arms"] = np.bincount(codes, minlength=n_p)
    plat_cols["n_funded"] = np.bincount(codes, weights=(s > 0).astype(float), minlength=n_p).astype(
        int
    )
    if curves.value is not None:
        rev_p = _group_sum(conv * curves.value, codes, n_p)
        plat_cols.update(_stats("revenue", rev_p))
        plat_cols.update(_roas(spend_p, rev_p))
    per_platform = pd.DataFrame(plat_cols, index=pd.Index(plat_names, name="platform"))

    # --- total ------------------------------------------------------------------------------------
    conv_t = conv.sum(axis=1, keepdims=True)
    s_t = np.array([s.sum()])
    tot: dict[str, Any] = {
        "spend": float(s.sum()),
        "budget": float(c.budget) if c else float(s.sum()),
    }
    tot.update({k: float(v[0]) for k, v in _stats("conv", conv_t).items()})
    tot.update({k: float(v[0]) for k, v in _ratio_stats("cpa", s_t, conv_t).items()})
    if curves.value is not None:
        rev_t = (conv * curves.value).sum(axis=1, keepdims=True)
        tot.update({k: float(v[0]) for k, v in _stats("revenue", rev_t).items()})
        tot.update({k: float(v[0]) for k, v in _roas(s_t, rev_t).items()})
    total = pd.Series(tot, name="total")

    warns = _warnings(curves, c, comp, s)
    meta_warn = curves.meta.get("warnings") if isinstance(curves.meta, Mapping) else None
    if isinstance(meta_warn, (list, tuple)):
        warns = [str(w) for w in meta_warn] + warns
    return Plan(
        arms=curves.arms,
        platform=curves.platform,
        spend=s,
        budget=float(c.budget) if c is not None else float(s.sum()),
        per_arm=per_arm,
        per_platform=per_platform,
        total=total,
        warnings=warns,
        policy=policy,
    )


def _roas(spend: FloatArray, rev: FloatArray) -> dict[str, FloatArray]:
    """ROAS = revenue / spend: mean and intervals; NaN where nothing is spent."""
    safe = np.where(spend > 0, spend, 1.0)
    out = {"roas_mean": np.where(spend > 0, rev.mean(axis=0) / safe, np.nan)}
    qs = np.quantile(rev / safe, list(_QUANTILES.values()), axis=0)
    for name, q in zip(_QUANTILES, qs, strict=True):
        out[f"roas_{name}"] = np.where(spend > 0, q, np.nan)
    return out


def make_plan(
    curves: ResponseCurves,
    c: Constraints,
    *,
    policy: Policy | None = None,
    rng: np.random.Generator | int | None = None,
) -> Plan:
    """Run ``policy`` (default ``"thompson"``,
    :class:`~amplify.allocate.policies.InfoDirectedThompsonPolicy`) and summarise its plan.

    ``rng`` is a numpy Generator or a seed (None: seed 0, so the same inputs give the same plan).
    """
    from amplify.allocate.policies import get_policy

    pol = policy if policy is not None else get_policy("thompson")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    spend = pol.allocate(curves, c, gen)
    return summarize(curves, spend, c, policy=getattr(pol, "name", type(pol).__name__))
