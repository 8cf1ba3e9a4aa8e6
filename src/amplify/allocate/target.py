"""The inverse question: what budget reaches N conversions at a CPA of at most X?

With the best split for every budget (the exact solver on the posterior-mean curve), expected
conversions rise and the average CPA (budget / conversions) rises with the budget, because the
curves saturate. So the least budget reaching ``N`` expected conversions is found by bisection, and
it is the answer if its CPA is within the limit; otherwise no budget does it, and the answer says
how far one can go: the most conversions at that CPA. CPA/ROAS targets inside the given constraints
are ignored here (the question sets its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from amplify.allocate.constraints import ConstraintError, Constraints, compile_constraints
from amplify.allocate.plan import Plan, summarize
from amplify.allocate.solve import solve_compiled
from amplify.curves import ResponseCurves

__all__ = ["BudgetAnswer", "budget_for_target"]

_ITER = 60


@dataclass(frozen=True)
class BudgetAnswer:
    """Answer to "what budget reaches N conversions at CPA <= X?".

    Attributes
    ----------
    reachable
        Whether some budget gives at least ``conversions`` expected conversions within ``max_cpa``.
    budget
        The least such budget (None when unreachable).
    conversions, cpa
        Expected conversions and CPA of the best plan at ``budget`` (or, when unreachable, at the
        largest budget within ``max_cpa``; None if no budget is within it).
    prob_reach
        Share of posterior draws in which the plan at ``budget`` reaches the conversions.
    max_conversions
        The most expected conversions with an average CPA within ``max_cpa`` (or the curves'
        saturation level without a CPA limit), and the budget giving them (``budget_at_max``).
    plan
        The plan at ``budget`` (or at ``budget_at_max`` when unreachable).
    reason
        Why it is unreachable, in words ("" when reachable).
    """

    reachable: bool
    budget: float | None
    conversions: float | None
    cpa: float | None
    prob_reach: float | None
    max_conversions: float | None
    budget_at_max: float | None
    plan: Plan | None
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (without the plan's tables)."""
        return {
            "reachable": self.reachable,
            "budget": self.budget,
            "conversions": self.conversions,
            "cpa": self.cpa,
            "prob_reach": self.prob_reach,
            "max_conversions": self.max_conversions,
            "budget_at_max": self.budget_at_max,
            "reason": self.reason,
            "warnings": list(self.warnings),
        }


class _Search:
    """The best plan's expected conversions as a function of the budget (other constraints "
    "fixed)."""

    def __init__(self, curves: ResponseCurves, template: Constraints) -> None:
        self.curves = curves
        self.template = template

    def constraints(self, budget: float) -> Constraints:
        return self.template.with_budget(budget)

    def spend(self, budget: float) -> NDArray[np.float64]:
        comp = compile_constraints(self.curves, self.constraints(budget))
        return solve_compiled(self.curves, comp)[0]

    def expected(self, budget: float) -> float:
        try:
            s = self.spend(budget)
        except ConstraintError:
            return -math.inf
        return float(self.curves.conversions(s).sum(axis=1).mean())

    def cpa(self, budget: float) -> float:
        conv = self.expected(budget)
        return budget / conv if conv > 0 else math.inf

    def answer(self, budget: float, conversions: float, max_cpa: float | None) -> BudgetAnswer:
        c = self.constraints(budget)
        s = self.spend(budget)
        plan = summarize(self.curves, s, c, policy="greedy")
        conv_mean = float(plan.total["conv_mean"])
        cpa = budget / conv_mean if conv_mean > 0 else math.inf
        per_draw = self.curves.conversions(s).sum(axis=1)
        ok = conv_mean >= conversions * (1 - 1e-9) and (
            max_cpa is None or cpa <= max_cpa * (1 + 1e-9)
        )
        return BudgetAnswer(
            reachable=ok,
            budget=budget if ok else None,
            conversions=conv_mean,
            cpa=cpa,
            prob_reach=float(np.mean(per_draw >= conversions * (1 - 1e-9))),
            max_conversions=None,
            budget_at_max=None,
            plan=plan,
            warnings=[w for w in plan.warnings if w.startswith("extrapolation")],
        )

    def best_within(self, max_cpa: float | None, least: float, hi_b: float) -> float | None:
        """Largest budget in ``[least, hi_b]`` with an average CPA within ``max_cpa`` (None: "
        "none)."""
        if max_cpa is None or self.cpa(hi_b) <= max_cpa:
            return hi_b
        lo_b = max(least, 1e-9 * max(hi_b, 1.0))
        if self.cpa(lo_b) > max_cpa:
            return None
        for _ in range(_ITER):
            mid = 0.5 * (lo_b + hi_b)
            if self.cpa(mid) <= max_cpa:
                lo_b = mid
            else:
                hi_b = mid
            if hi_b - lo_b <= 1e-6 * hi_b:
                break
        return lo_b

    def unreachable(
        self, conversions: float, max_cpa: float | None, best: float | None, reason: str
    ) -> BudgetAnswer:
        if best is None:
            limit = f"; no budget has an average CPA within {max_cpa:,.2f}" if max_cpa else ""
            return BudgetAnswer(False, None, None, None, None, None, None, None, reason + limit)
        at = self.answer(best, conversions, None)
        return BudgetAnswer(
            reachable=False,
            budget=None,
            conversions=at.conversions,
            cpa=at.cpa,
            prob_reach=at.prob_reach,
            max_conversions=at.conversions,
            budget_at_max=best,
            plan=at.plan,
            reason=reason,
            warnings=at.warnings,
        )


def budget_for_target(
    curves: ResponseCurves,
    conversions: float,
    max_cpa: float | None = None,
    c: Constraints | None = None,
    *,
    rel_tol: float = 1e-6,
) -> BudgetAnswer:
    """The least budget whose best plan is expected to bring ``conversions`` at an average CPA <=
    ``max_cpa``.

    Parameters
    ----------
    curves
        Posterior draws of the response curves.
    conversions
        Expected conversions to reach (> 0).
    max_cpa
        Largest acceptable average cost per conversion (None: no limit).
    c
        Other constraints (bounds, locks, minimum per arm, ...); its budget is replaced and its
        CPA/ROAS target ignored. Default: none.
    rel_tol
        Relative precision of the budget.

    Returns
    -------
    BudgetAnswer
        The budget, or why there is none and the most that can be had within the CPA limit.
    """
    if not (math.isfinite(conversions) and conversions > 0):
        raise ValueError(f"conversions must be a positive number, got {conversions}")
    if max_cpa is not None and not (math.isfinite(max_cpa) and max_cpa > 0):
        raise ValueError(f"max_cpa must be a positive number, got {max_cpa}")
    template = (
        c.replace(target_cpa=None, target_roas=None) if c is not None else Constraints(budget=0.0)
    )
    search = _Search(curves, template)
    least = float(sum(b.lower for b in template.bounds.values()))
    plat = set(curves.platform)
    most = math.inf
    if all(p in template.bounds and math.isfinite(template.bounds[p].upper) for p in plat):
        most = float(sum(template.bounds[p].upper for p in plat))
    saturation = float((curves.beta * curves.k).sum(axis=1).mean())

    lo_b = least
    if search.expected(lo_b) >= conversions:
        return search.answer(lo_b, conversions, max_cpa)
    slope = float(curves.beta.mean(axis=0).max())
    hi_b = min(max(2.0 * least, conversions / max(slope, 1e-300), 1.0), most)
    conv_hi = -math.inf
    reached = False
    for _ in range(80):
        conv_hi = search.expected(hi_b)
        if conv_hi >= conversions:
            reached = True
            break
        if hi_b >= most or conv_hi >= saturation * (1 - 1e-3):
            break
        if max_cpa is not None and conv_hi > 0 and hi_b / conv_hi > max_cpa:
            break  # the average CPA only rises with the budget
        lo_b, hi_b = hi_b, min(2.0 * hi_b, most)
    if not reached:
        capped = hi_b >= most
        if capped:
            why = (
                f"the platform maximums allow at most {most:,.2f}, which brings about "
                f"{conv_hi:,.1f}"
            )
        elif conv_hi >= saturation * (1 - 1e-3):
            why = f"the curves saturate at about {saturation:,.1f} expected conversions"
        else:
            assert max_cpa is not None
            why = (
                f"already at a budget of {hi_b:,.2f} the average CPA is {hi_b / conv_hi:,.2f}, "
                f"above "
                f"the limit {max_cpa:,.2f}, for {conv_hi:,.1f} conversions"
            )
        reason = f"{conversions:,.1f} conversions are out of reach: {why}"
        if max_cpa is None and not capped:
            return BudgetAnswer(False, None, None, None, None, saturation, None, None, reason)
        best = search.best_within(max_cpa, least, hi_b)
        return search.unreachable(conversions, max_cpa, best, reason)
    for _ in range(_ITER):
        mid = 0.5 * (lo_b + hi_b)
        if search.expected(mid) >= conversions:
            hi_b = mid
        else:
            lo_b = mid
        if hi_b - lo_b <= rel_tol * hi_b:
            break
    answer = search.answer(hi_b, conversions, max_cpa)
    if answer.reachable:
        return answer
    assert max_cpa is not None
    best = search.best_within(max_cpa, least, hi_b)
    return search.unreachable(
        conversions,
        max_cpa,
        best,
        f"reaching {conversions:,.1f} conversions needs a budget of {hi_b:,.2f} at a CPA of "
        f"{answer.cpa:,.2f}, above the limit {max_cpa:,.2f}",
    )
