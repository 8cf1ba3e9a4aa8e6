"""What-if scenarios: a frozen :class:`Scenario` in, a table with intervals out, baseline included.

A scenario changes the budget, platform bounds or locks, shocks a platform's costs or conversion
rate (``{"tiktok": {"cpm": 0.2, "cvr": -0.1}}``: CPMs up 20%, conversion rate down 10%), or keeps
only the best ``top_n_posts`` posts. :func:`compare` plans every scenario (re-optimised by default,
or with the baseline's spend kept) and evaluates all posterior draws, so each row carries intervals;
the change against the baseline is computed draw by draw (the same draw under both), so its interval
is the paired one.

A what-if that silently equals its baseline is the classic trap (a scenario the code ignored): every
scenario that asks for a change is checked against the baseline, and one whose plan and outcome are
identical is marked ``same_as_baseline`` (an error with ``strict=True``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from amplify.allocate.constraints import (
    ConstraintError,
    Constraints,
    PlatformBounds,
    normalize_platform,
)
from amplify.allocate.plan import quantiles
from amplify.allocate.policies import GreedyPolicy, Policy
from amplify.curves import ResponseCurves

__all__ = ["BASELINE", "Scenario", "Shock", "apply_scenario", "compare"]

FloatArray = NDArray[np.float64]
BASELINE = "baseline"
_ALL = ("all", "*")
_Q = {"p10": 0.10, "p90": 0.90, "p2_5": 0.025, "p97_5": 0.975}


class Shock(BaseModel):
    """Relative change of a platform's costs and conversion rate (``cpm=0.2``: CPMs 20% higher)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpm: float = Field(default=0.0, gt=-1.0, allow_inf_nan=False)
    cvr: float = Field(default=0.0, gt=-1.0, allow_inf_nan=False)

    @property
    def is_null(self) -> bool:
        return self.cpm == 0.0 and self.cvr == 0.0


class Scenario(BaseModel):
    """One what-if, validated on construction.

    Parameters
    ----------
    name
        Label of the scenario (not ``"baseline"``).
    budget
        Total budget (None: the baseline's).
    bounds
        Platform bounds replacing the baseline's for the platforms named.
    locks
        Shorthand: lock these platforms at these amounts.
    shocks
        ``{platform: {"cpm": +0.2, "cvr": -0.1}}``; the platform ``"all"`` shocks every platform.
    top_n_posts
        Keep only the best ``n`` arms (by posterior-mean conversions at an equal share of the
        budget).
    replan
        Re-optimise under the scenario (default); False keeps the baseline's spend and shows what
        changes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    budget: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    bounds: dict[str, PlatformBounds] | None = None
    locks: dict[str, float] | None = None
    shocks: dict[str, Shock] = Field(default_factory=dict)
    top_n_posts: int | None = Field(default=None, ge=1)
    replan: bool = True

    @field_validator("name")
    @classmethod
    def _not_baseline(cls, v: str) -> str:
        if v.strip().lower() == BASELINE:
            raise ValueError(f"{BASELINE!r} is the name of the reference row; pick another name")
        return v

    @field_validator("bounds", "shocks", "locks", mode="before")
    @classmethod
    def _canonical(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            return v
        return {(k if str(k).lower() in _ALL else normalize_platform(k)): x for k, x in v.items()}

    @field_validator("locks")
    @classmethod
    def _locks_ok(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            bad = {p: x for p, x in v.items() if not (math.isfinite(x) and x >= 0)}
            if bad:
                raise ValueError(f"locks must be finite and >= 0, got {bad}")
        return v

    @property
    def changes_something(self) -> bool:
        """Whether the scenario asks for any change at all."""
        return bool(
            self.budget is not None
            or self.bounds
            or self.locks
            or any(not s.is_null for s in self.shocks.values())
            or self.top_n_posts is not None
        )


def _constraints(scenario: Scenario, base: Constraints) -> Constraints:
    bounds = dict(base.bounds)
    for p, b in (scenario.bounds or {}).items():
        bounds[p] = b
    for p, x in (scenario.locks or {}).items():
        bounds[p] = PlatformBounds(lock=x)
    try:
        return base.replace(
            budget=base.budget if scenario.budget is None else scenario.budget,
            bounds={p: b.model_dump() for p, b in bounds.items()},
        )
    except ConstraintError as e:
        raise ConstraintError(f"scenario {scenario.name!r}: {e}") from None


def _shocked(curves: ResponseCurves, scenario: Scenario) -> ResponseCurves:
    out = curves
    for p, s in scenario.shocks.items():
        if s.is_null:
            continue
        try:
            out = out.shocked(None if p in _ALL else p, cpm=s.cpm, cvr=s.cvr)
        except KeyError as e:
            raise KeyError(f"scenario {scenario.name!r}: {e.args[0]}") from None
    return out


def apply_scenario(
    curves: ResponseCurves, scenario: Scenario, base: Constraints
) -> tuple[ResponseCurves, Constraints]:
    """The curves and constraints a scenario plans with (shocked, arms selected, bounds merged)."""
    c = _constraints(scenario, base)
    cur = _shocked(curves, scenario)
    if scenario.top_n_posts is not None and scenario.top_n_posts < cur.n_arms:
        n = scenario.top_n_posts
        ref = max(c.budget / n, c.min_per_arm)
        score = cur.conversions(np.full(cur.n_arms, ref)).mean(axis=0)
        keep = np.sort(np.argsort(-score, kind="stable")[:n])
        cur = cur.take_arms([cur.arms[j] for j in keep])
        if c.previous is not None:
            c = c.replace(previous={a: v for a, v in c.previous.items() if a in cur.arms} or None)
    return cur, c


def _row_stats(prefix: str, draws: FloatArray) -> dict[str, float]:
    out = {f"{prefix}_mean": float(draws.mean())}
    qs = np.quantile(draws, list(_Q.values()))
    out.update({f"{prefix}_{k}": float(q) for k, q in zip(_Q, qs, strict=True)})
    return out


def _rows(
    name: str,
    curves: ResponseCurves,
    spend: FloatArray,
    base_by_platform: Mapping[str, tuple[float, FloatArray]],
    platforms: Sequence[str],
) -> list[dict[str, Any]]:
    conv = curves.conversions(spend)
    plat = np.asarray(curves.platform)
    rows = []
    for p in [*platforms, "total"]:
        on = np.ones(curves.n_arms, dtype=bool) if p == "total" else plat == p
        s = float(spend[on].sum())
        c_draws = conv[:, on].sum(axis=1) if on.any() else np.zeros(curves.n_draws)
        b_spend, b_draws = base_by_platform[p]
        row: dict[str, Any] = {
            "scenario": name,
            "platform": p,
            "spend": s,
            "spend_change": s - b_spend,
        }
        row.update(_row_stats("conv", c_draws))
        mean = row["conv_mean"]
        row["cpa_mean"] = s / mean if mean > 0 else math.nan
        with np.errstate(divide="ignore"):
            cpa_draws = np.where(c_draws > 0, s / np.maximum(c_draws, 1e-300), np.inf)
        qs = quantiles(cpa_draws, list(_Q.values())) if s > 0 else [math.nan] * len(_Q)
        row.update({f"cpa_{k}": float(q) for k, q in zip(_Q, qs, strict=True)})
        diff = c_draws - b_draws
        row.update(_row_stats("delta_conv", diff))
        row["prob_better"] = float(np.mean(diff > 0))
        rows.append(row)
    return rows


def compare(
    curves: ResponseCurves,
    scenarios: Sequence[Scenario],
    base_constraints: Constraints,
    rng: np.random.Generator | int | None = None,
    *,
    policy: Policy | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Plan and evaluate each scenario next to the baseline.

    Parameters
    ----------
    curves
        Posterior draws of the response curves (the baseline).
    scenarios
        The what-ifs (names must be unique).
    base_constraints
        The baseline's budget and constraints; scenarios change them.
    rng
        Generator or seed for the policy; every scenario gets the same stream, so differences are
        paired.
    policy
        How to plan (default :class:`~amplify.allocate.policies.GreedyPolicy`: deterministic, so a
        difference is the scenario's and not the sampler's).
    strict
        Raise ``ValueError`` when a scenario that asks for a change comes out identical to the
        baseline.

    Returns
    -------
    pandas.DataFrame
        One row per scenario and platform plus a ``"total"`` row, the baseline first: ``spend``,
        ``spend_change``, ``conv_*`` and ``cpa_*`` (mean, 80% and 95% intervals), ``delta_conv_*``
        (paired difference to the baseline), ``prob_better`` (share of draws better than the
        baseline), ``same_as_baseline`` and ``note``.
    """
    names = [s.name for s in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"scenario names must be unique; repeated: {dupes}")
    pol = policy or GreedyPolicy()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    seed = int(gen.integers(2**63 - 1))

    base_spend = np.asarray(pol.allocate(curves, base_constraints, np.random.default_rng(seed)))
    base_conv = curves.conversions(base_spend)
    platforms = list(dict.fromkeys(curves.platform))
    plat = np.asarray(curves.platform)
    base_by: dict[str, tuple[float, FloatArray]] = {
        p: (float(base_spend[plat == p].sum()), base_conv[:, plat == p].sum(axis=1))
        for p in platforms
    }
    base_by["total"] = (float(base_spend.sum()), base_conv.sum(axis=1))
    rows = _rows(BASELINE, curves, base_spend, base_by, platforms)
    for r in rows:
        r.update(same_as_baseline=True, note="")

    for sc in scenarios:
        cur, c = apply_scenario(curves, sc, base_constraints)
        if sc.replan:
            spend = np.asarray(pol.allocate(cur, c, np.random.default_rng(seed)))
        else:
            if cur.n_arms != curves.n_arms:
                raise ValueError(f"scenario {sc.name!r}: top_n_posts needs replan=True")
            spend = base_spend.copy()
        sc_rows = _rows(sc.name, cur, spend, base_by, platforms)
        same = bool(
            cur.n_arms == curves.n_arms
            and np.allclose(spend, base_spend, rtol=1e-9, atol=1e-9)
            and np.allclose(cur.conversions(spend), base_conv, rtol=1e-12, atol=0.0)
        )
        note = ""
        if same and sc.changes_something:
            note = "no effect: plan and outcome identical to the baseline"
            if strict:
                raise ValueError(f"scenario {sc.name!r}: {note}")
        elif same:
            note = "asks for no change"
        for r in sc_rows:
            r.update(same_as_baseline=same, note=note)
        rows.extend(sc_rows)
    return pd.DataFrame(rows)
