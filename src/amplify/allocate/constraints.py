"""What a marketer may constrain: validated once, compiled into per-arm boxes for a set of curves.

:class:`Constraints` and :class:`PlatformBounds` are frozen pydantic models (``extra="forbid"``,
with "did you mean" hints for misspelt fields) checked on construction: impossible combinations
(minimums above the budget, a lock above a maximum, locks summing over the budget, a negative
budget) raise :class:`ConstraintError`, which names the platform and the numbers.

:func:`compile_constraints` turns them into what the solver needs for a given
:class:`~amplify.curves.ResponseCurves`: a box ``[lo, hi]`` per arm (bounds of a platform with a
single arm, the maximum change from the previous plan, the extrapolation cap) and, for platforms
with several arms (posts), a bound on the platform's *sum*. Hard constraints (budget, bounds, locks)
that cannot all hold raise :class:`ConstraintError`; soft ones (maximum change, extrapolation cap)
are widened just enough to make the budget placeable, and the plan says so.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from amplify.constants import PLATFORM_ALIASES, PLATFORMS
from amplify.curves import ResponseCurves
from amplify.errors import ConstraintError

__all__ = [
    "Compiled",
    "ConstraintError",
    "Constraints",
    "PlatformBounds",
    "compile_constraints",
    "normalize_platform",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Relative slack when comparing sums of money (rounding of user input).
_REL = 1e-9
#: Relative slack of widened soft boxes (well inside the solver's, which is ``1e-9``).
_SOFT_REL = 1e-12


def _money(x: float) -> str:
    return f"{x:,.2f}"


def normalize_platform(name: str) -> str:
    """Canonical platform name for common spellings (``"FB"`` → ``"facebook"``), else "
    "lower-cased."""
    key = "".join(ch for ch in str(name).lower() if ch not in " -_")
    return PLATFORM_ALIASES.get(key, str(name).strip().lower())


def _reject_unknown_fields(model: type[BaseModel], data: Any) -> None:
    """Raise a ConstraintError with a "did you mean" hint for fields the model does not have."""
    if not isinstance(data, Mapping):
        return
    known = list(model.model_fields)
    unknown = [k for k in data if k not in known]
    if not unknown:
        return
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"{key!r}{hint}")
    raise ConstraintError(
        f"{model.__name__}: unknown field {', '.join(parts)}; known fields: {', '.join(known)}"
    )


def _constraint_error(e: ValidationError) -> ConstraintError | None:
    """The ConstraintError a validator raised, if pydantic wrapped one."""
    for err in e.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ConstraintError):
            return inner
    return None


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        _reject_unknown_fields(type(self), data)
        try:
            super().__init__(**data)
        except ValidationError as e:
            inner = _constraint_error(e)
            if inner is not None:
                raise ConstraintError(str(inner)) from None
            raise


class PlatformBounds(_Frozen):
    """Spend limits of one platform (the sum over its arms when the arms are posts).

    Parameters
    ----------
    min
        Spend at least this much on the platform.
    max
        Spend at most this much (None: no maximum).
    lock
        Spend exactly this much (``min``/``max``, if given, must allow it).
    """

    min: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    max: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    lock: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> PlatformBounds:
        if self.max is not None and self.min > self.max * (1 + _REL):
            raise ConstraintError(
                f"min {_money(self.min)} is above max {_money(self.max)}; lower the min or raise "
                f"the max"
            )
        if self.lock is not None:
            if self.max is not None and self.lock > self.max * (1 + _REL):
                raise ConstraintError(
                    f"lock {_money(self.lock)} is above max {_money(self.max)}; lower the lock or "
                    f"raise "
                    "the max"
                )
            if self.lock < self.min * (1 - _REL):
                raise ConstraintError(
                    f"lock {_money(self.lock)} is below min {_money(self.min)}; raise the lock or "
                    f"lower "
                    "the min"
                )
        return self

    @property
    def lower(self) -> float:
        """The least the platform may get (the lock when locked)."""
        return float(self.lock) if self.lock is not None else float(self.min)

    @property
    def upper(self) -> float:
        """The most the platform may get (``inf`` without a maximum)."""
        if self.lock is not None:
            return float(self.lock)
        return math.inf if self.max is None else float(self.max)


class Constraints(_Frozen):
    """Everything that limits a plan, validated on construction.

    Parameters
    ----------
    budget
        Total spend to place (account currency). All of it is placed, unless a CPA or ROAS target
        says the last units are not worth it.
    bounds
        Per-platform :class:`PlatformBounds` (keys accept common spellings: ``"FB"``, ``"Insta"``,
        ``"TikTok"``).
    min_per_arm
        Minimum spend of an arm that gets any (a boosted post gets 0 or at least this).
    step
        Spend is rounded to multiples of this (0: no rounding). The sum still equals the budget:
        when the budget is not a multiple of the step, one arm carries the remainder; bounds off the
        step grid are kept exactly.
    max_change
        Fraction of the budget each arm may move relative to ``previous`` (None: no limit).
    previous
        Yesterday's spend per arm (arm names as in the curves; missing arms count as 0).
    target_cpa
        Stop adding spend where the *marginal* cost per conversion exceeds this.
    target_roas
        Stop adding spend where the marginal revenue per unit of spend falls below this (needs
        curves with value).
    max_extrapolation
        Cap each arm at this multiple of the largest spend it was observed at (None: no cap; plans
        beyond 3× are flagged either way).

    Raises
    ------
    ConstraintError
        Impossible combinations, naming the platform and the numbers.
    """

    budget: float = Field(ge=0.0, allow_inf_nan=False)
    bounds: dict[str, PlatformBounds] = Field(default_factory=dict)
    min_per_arm: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    step: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    max_change: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    previous: dict[str, float] | None = None
    target_cpa: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    target_roas: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    max_extrapolation: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _budget_sign(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            budget = data.get("budget")
            if isinstance(budget, (int, float)) and budget < 0:
                raise ConstraintError(
                    f"budget {_money(float(budget))} is negative; give a budget >= 0"
                )
        return data

    @field_validator("bounds", mode="before")
    @classmethod
    def _canonical_platforms(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for key, bound in value.items():
            name = normalize_platform(key)
            if name in out:
                raise ConstraintError(f"bounds: platform {name!r} is given twice (as {key!r})")
            if isinstance(bound, Mapping):
                try:
                    bound = PlatformBounds(**bound)
                except ConstraintError as e:
                    raise ConstraintError(f"{name}: {e}") from None
            out[name] = bound
        return out

    @field_validator("previous")
    @classmethod
    def _previous_ok(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        bad = {a: v for a, v in value.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ConstraintError(f"previous: spend must be finite and >= 0, got {bad}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Constraints:
        if self.target_cpa is not None and self.target_roas is not None:
            raise ConstraintError("give a CPA target or a ROAS target, not both")
        budget = self.budget
        over = budget * (1 + _REL) + 1e-9
        for name, b in self.bounds.items():
            if b.lower > over:
                what = "lock" if b.lock is not None else "min"
                raise ConstraintError(
                    f"{name}: {what} {_money(b.lower)} is above the budget {_money(budget)}; lower "
                    f"the "
                    f"{what} or raise the budget"
                )
        locks = {n: float(b.lock) for n, b in self.bounds.items() if b.lock is not None}
        if len(locks) > 1 and sum(locks.values()) > over:
            listed = ", ".join(f"{n} {_money(v)}" for n, v in locks.items())
            raise ConstraintError(
                f"the locks ({listed}) sum to {_money(sum(locks.values()))}, above the budget "
                f"{_money(budget)}; lower a lock or raise the budget"
            )
        lowers = {n: b.lower for n, b in self.bounds.items() if b.lower > 0}
        if sum(lowers.values()) > over:
            listed = ", ".join(f"{n} {_money(v)}" for n, v in lowers.items())
            raise ConstraintError(
                f"the platform minimums and locks ({listed}) sum to "
                f"{_money(sum(lowers.values()))}, "
                f"above the budget {_money(budget)}; lower them or raise the budget"
            )
        m = self.min_per_arm
        for name, b in self.bounds.items():
            if m > 0 and b.lower > 0 and b.upper < m * (1 - _REL):
                raise ConstraintError(
                    f"{name}: must get {_money(b.lower)}-{_money(b.upper)}, but an arm that gets "
                    f"any spend "
                    f"needs at least min_per_arm {_money(m)}"
                )
        return self

    def with_budget(self, budget: float) -> Constraints:
        """The same constraints for another budget (validated again)."""
        return self.replace(budget=float(budget))

    def replace(self, **changes: Any) -> Constraints:
        """A copy with some fields changed (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Constraints(**data)


# --------------------------------------------------------------------------------------------------
# compilation for one set of curves
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A bound on the sum of several arms (the posts of one platform)."""

    platform: str
    arms: IntArray
    lo: float
    hi: float


@dataclass(frozen=True)
class Compiled:
    """Constraints in solver form for one set of curves (see :func:`compile_constraints`).

    ``lo``/``hi`` are per-arm boxes (``hi`` may be ``inf``); ``groups`` bound platform sums of
    multi-arm platforms; ``floor`` is the least marginal return (conversions, or revenue under a
    ROAS target, per unit of spend) worth buying; ``notes`` say which soft constraints were widened.
    """

    budget: float
    lo: FloatArray
    hi: FloatArray
    groups: tuple[Group, ...]
    min_per_arm: float
    step: float
    floor: float | None
    revenue: bool
    notes: tuple[str, ...]
    previous: FloatArray | None

    @property
    def n_arms(self) -> int:
        return int(self.lo.shape[0])


def _platform_index(platform: Sequence[str]) -> dict[str, IntArray]:
    out: dict[str, list[int]] = {}
    for j, p in enumerate(platform):
        out.setdefault(p, []).append(j)
    return {p: np.asarray(v, dtype=np.int64) for p, v in out.items()}


def _range(
    lo: FloatArray, hi: FloatArray, groups: Sequence[Group], singles: IntArray
) -> tuple[float, float]:
    """Least and most the whole plan can spend given arm boxes and platform-sum bounds."""
    least = float(lo[singles].sum())
    most = float(np.minimum(hi[singles], np.inf).sum())
    for g in groups:
        least += max(g.lo, float(lo[g.arms].sum()))
        most += min(g.hi, float(hi[g.arms].sum()))
    return least, most


def _merge(spans: list[tuple[float, float]], tol: float) -> list[tuple[float, float]]:
    """Union of closed intervals, as sorted disjoint intervals (gaps up to ``tol`` closed)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + tol:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _hits(spans: list[tuple[float, float]], total: float, tol: float, at_most: bool) -> bool:
    """Whether ``total`` lies in one of ``spans`` (``at_most``: the total is a cap, so it is hit
    when some span starts at or below it)."""
    return any(a - tol <= total and (at_most or total <= b + tol) for a, b in spans)


def _reachable(
    lo: FloatArray,
    hi: FloatArray,
    m: float,
    groups: Sequence[Group],
    singles: IntArray,
    tol: float,
) -> list[tuple[float, float]]:
    """Plan totals reachable within boxes when an arm gets 0 or at least ``m`` (disjoint intervals).

    An arm with lower bound 0 takes 0 or ``[m, hi]``; with ``k`` of a group's such arms funded its
    sum spans ``[forced lo + k m, forced hi + the k largest hi]`` (intervals sharing their lower end
    nest, so this is exact), cut to the group's bounds; groups add up (Minkowski sums).
    """
    parts: list[tuple[IntArray, float, float]] = [(singles, 0.0, math.inf)]
    parts += [(g.arms, g.lo, g.hi) for g in groups]
    total: list[tuple[float, float]] = [(0.0, 0.0)]
    for arms, g_lo, g_hi in parts:
        l_a, h_a = lo[arms], hi[arms]
        free = (l_a <= 0) & (h_a >= m)
        fixed = ~free & (l_a > 0)  # a box inside [0, m) that is not forced gets nothing
        f_lo, f_hi = float(l_a[fixed].sum()), float(h_a[fixed].sum())
        tops = np.concatenate([[0.0], np.cumsum(np.sort(h_a[free])[::-1])])
        spans = [
            (max(f_lo + k * m, g_lo), min(f_hi + float(tops[k]), g_hi)) for k in range(tops.size)
        ]
        # a platform minimum > 0, however small, needs a funded arm (no tolerance there)
        mine = _merge([(a, b) for a, b in spans if a <= b + tol and (b > 0 or g_lo <= 0)], tol)
        total = _merge([(a + c, b + d) for a, b in total for c, d in mine], tol)
        if not total:
            break
    return total


def _snap_min(
    lo: FloatArray,
    hi: FloatArray,
    m: float,
    violation: Callable[[FloatArray, FloatArray], float],
) -> tuple[FloatArray, FloatArray, float, list[int]]:
    """Soft boxes made consistent with the rule "0 or at least ``m``" (``m > 0``).

    A box reaching into ``(0, m)`` from above or below becomes either *funded* (lower bound ``m``,
    or upper bound at least ``m``) or *unfunded* (lower bound 0, or the box ``[0, 0]``); the
    minimum per arm takes precedence over the soft limits, hard bounds are never crossed (a hard
    lower bound is 0 or at least ``m``). Each arm first takes the choice that leaves its soft box
    least (not at all when the box reaches ``m``); while the budget cannot be placed, arms switch
    to the other choice, cheapest first, when that helps. Returns the boxes, their ``violation``
    and the arms whose box leaves the soft one.
    """
    amb_lo = (lo > 0) & (lo < m)  # forced above 0 but below the minimum
    amb_hi = ~amb_lo & (lo <= 0) & (hi > 0) & (hi < m)  # allowed some, but less than the minimum
    amb = amb_lo | amb_hi
    up_cost = np.where(amb, np.maximum(m - hi, 0.0), 0.0)  # beyond the soft upper bound
    down_cost = np.where(amb_lo, lo, 0.0)  # below the soft lower bound
    up = amb & (up_cost < down_cost)

    def boxes(up: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        new_lo = np.where(amb_lo, np.where(up, m, 0.0), lo)
        new_hi = np.where(amb & up, np.maximum(hi, m), np.where(amb & (hi < m), 0.0, hi))
        return new_lo, new_hi

    new_lo, new_hi = boxes(up)
    bad = violation(new_lo, new_hi)
    if bad > 0:
        order = np.argsort(np.abs(up_cost - down_cost), kind="stable")
        for j in order[amb[order]]:
            trial = up.copy()
            trial[j] = ~trial[j]
            t_lo, t_hi = boxes(trial)
            t_bad = violation(t_lo, t_hi)
            if t_bad < bad:
                up, new_lo, new_hi, bad = trial, t_lo, t_hi, t_bad
                if bad <= 0:
                    break
    cost = np.where(up, up_cost, down_cost)
    off = [int(j) for j in np.flatnonzero(amb & (cost > 0))]
    return new_lo, new_hi, bad, off


def compile_constraints(curves: ResponseCurves, c: Constraints) -> Compiled:
    """Per-arm boxes and platform-sum bounds of ``c`` for ``curves``.

    Raises
    ------
    ConstraintError
        When the hard constraints cannot all hold for these arms (a bound on an unknown platform, a
        platform minimum its arms cannot reach, maximums summing to less than the budget, ...).
    """
    n = curves.n_arms
    budget = float(c.budget)
    by_platform = _platform_index(curves.platform)
    known = set(by_platform) | set(PLATFORMS)
    for name, b in c.bounds.items():
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConstraintError(
                f"bounds: unknown platform {name!r}{hint}; platforms in the curves: "
                f"{', '.join(sorted(by_platform))}"
            )
        if name not in by_platform and b.lower > 0:
            raise ConstraintError(
                f"{name}: must get {_money(b.lower)}, but the curves have no arm on {name}; drop "
                f"the bound "
                "or add arms"
            )

    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    groups: list[Group] = []
    single = np.ones(n, dtype=bool)
    for name, b in c.bounds.items():
        idx = by_platform.get(name)
        if idx is None:
            continue
        if idx.size == 1:
            lo[idx] = b.lower
            hi[idx] = b.upper
        else:
            groups.append(Group(name, idx, b.lower, b.upper))
            single[idx] = False
    singles = np.flatnonzero(single)

    for g in groups:  # no post can take more than its platform
        hi[g.arms] = np.minimum(hi[g.arms], g.hi)
    m = float(c.min_per_arm)
    if m > 0:
        for j in range(n):
            if 0 < lo[j] < m and hi[j] < m * (1 - _REL):
                raise ConstraintError(
                    f"{curves.arms[j]}: must get {_money(lo[j])}-{_money(hi[j])}, but an arm that "
                    f"gets any spend needs at least min_per_arm {_money(m)}"
                )
        # a platform arm that must get something gets at least the minimum per arm
        lo = np.where(lo > 0, np.maximum(lo, np.minimum(m, hi)), lo)
        hi = np.where((hi < m) & (lo <= 0), 0.0, hi)

    least, most = _range(lo, hi, groups, singles)
    if least > budget * (1 + _REL) + 1e-9:
        raise ConstraintError(
            f"the minimums and locks need {_money(least)}, above the budget {_money(budget)}; "
            f"lower them "
            "or raise the budget"
        )
    if most < budget * (1 - _REL) - 1e-9:
        raise ConstraintError(
            f"the maximums and locks allow at most {_money(most)}, below the budget "
            f"{_money(budget)}; raise "
            "a maximum or lower the budget"
        )
    for g in groups:
        arm_hi = float(hi[g.arms].sum())
        if g.lo > arm_hi * (1 + _REL) + 1e-9:
            raise ConstraintError(
                f"{g.platform}: must get {_money(g.lo)}, but its arms can take at most "
                f"{_money(arm_hi)}"
            )

    # a CPA / ROAS target may spend less than the budget, never more
    at_most = c.target_cpa is not None or c.target_roas is not None
    if m > 0:
        tol = _REL * max(budget, 1.0) + 1e-9
        spans = _reachable(lo, hi, m, groups, singles, tol)
        if not _hits(spans, budget, tol, at_most):
            near = ", ".join(f"{_money(a)}-{_money(b)}" for a, b in spans[:6]) or "none"
            raise ConstraintError(
                f"with min_per_arm {_money(m)} (an arm gets 0 or at least that) the bounds and "
                f"locks cannot add up to the budget {_money(budget)}{' or less' if at_most else ''}"
                f"; reachable totals: {near}. "
                "Change the budget, a bound or lock, or lower min_per_arm"
            )

    # --- soft boxes: maximum change from the previous plan and the extrapolation cap --------------
    notes: list[str] = []
    soft_lo = lo.copy()
    soft_hi = hi.copy()
    previous: FloatArray | None = None
    if c.previous is not None:
        unknown = sorted(set(c.previous) - set(curves.arms))
        if unknown and len(unknown) == len(c.previous):
            close = difflib.get_close_matches(unknown[0], list(curves.arms), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            notes.append(
                f"previous: no arm of the previous plan is in the curves (e.g. "
                f"{unknown[0]!r}{hint}); every arm counts as new"
            )
        previous = np.array([float(c.previous.get(a, 0.0)) for a in curves.arms])
    if c.max_change is not None and previous is not None:
        delta = float(c.max_change) * budget
        soft_lo = np.maximum(soft_lo, previous - delta)
        soft_hi = np.minimum(soft_hi, previous + delta)
    if c.max_extrapolation is not None and curves.max_observed_spend is not None:
        cap = float(c.max_extrapolation) * np.asarray(curves.max_observed_spend, dtype=float)
        soft_hi = np.minimum(soft_hi, np.where(cap > 0, cap, np.inf))
    # soft limits never override hard ones
    clash = (soft_lo > hi * (1 + _REL) + 1e-9) | (soft_hi < lo * (1 - _REL) - 1e-9)
    if clash.any():
        names = ", ".join(curves.arms[j] for j in np.flatnonzero(clash)[:10])
        notes.append(f"max_change / max_extrapolation give way to the bounds on: {names}")
    soft_lo = np.clip(soft_lo, lo, hi)
    soft_hi = np.clip(soft_hi, lo, hi)
    soft_hi = np.maximum(soft_hi, soft_lo)

    cap_hi = np.where(np.isfinite(hi), hi, max(budget, 1.0))
    fin_soft_hi = np.minimum(soft_hi, cap_hi)

    def relaxed(t: float) -> tuple[FloatArray, FloatArray]:
        return soft_lo + t * (lo - soft_lo), fin_soft_hi + t * (cap_hi - fin_soft_hi)

    def violation(l_t: FloatArray, h_t: FloatArray) -> float:
        """How far boxes are from placing the budget (0: placeable)."""
        # stricter than the solver's tolerance, so that widened boxes are safely placeable
        tol = _SOFT_REL * max(budget, 1.0)
        least_t, most_t = _range(l_t, h_t, groups, singles)
        out = max(0.0, least_t - budget - tol) + max(0.0, budget - tol - most_t)
        for g in groups:
            out += max(0.0, g.lo - float(h_t[g.arms].sum()) - tol)
            out += max(0.0, float(l_t[g.arms].sum()) - tol - g.hi)
        if out <= 0 and m > 0:
            # an arm gets 0 or at least m: the reachable totals may have gaps around the budget
            spans = _reachable(l_t, h_t, m, groups, singles, tol)
            gaps = [max(a - budget, 0.0 if at_most else budget - b, 0.0) for a, b in spans]
            out = min(gaps) if gaps else math.inf
            out = 0.0 if out <= tol else out
        return out

    def fitted(t: float) -> tuple[FloatArray, FloatArray, float, list[int]]:
        """Boxes at widening ``t`` made to respect the minimum per arm (see :func:`_snap_min`)."""
        l_t, h_t = relaxed(t)
        if m <= 0:
            return l_t, h_t, violation(l_t, h_t), []
        return _snap_min(l_t, h_t, m, violation)

    soft_changed = bool(np.any(soft_lo != lo) or np.any(soft_hi != hi))
    t = 0.0
    new_lo, new_hi, bad, off = fitted(0.0)
    if soft_changed and bad > 0:
        a, b_ = 0.0, 1.0
        best = fitted(1.0)
        for _ in range(50):
            mid = 0.5 * (a + b_)
            got = fitted(mid)
            if got[2] <= 0:
                b_, best = mid, got
            else:
                a = mid
        t = b_
        new_lo, new_hi, bad, off = best
        what = []
        if c.max_change is not None and previous is not None:
            what.append("max_change")
        if c.max_extrapolation is not None and curves.max_observed_spend is not None:
            what.append("max_extrapolation")
        notes.append(
            f"{' and '.join(what)} widened {100 * t:.0f}% of the way to the hard bounds: otherwise "
            f"the budget {_money(budget)} could not be placed"
        )
    if off:
        names = ", ".join(curves.arms[j] for j in off[:10])
        more = f" and {len(off) - 10} more" if len(off) > 10 else ""
        notes.append(
            f"min_per_arm {_money(m)} takes precedence over max_change / max_extrapolation on: "
            f"{names}{more} (an arm gets 0 or at least the minimum)"
        )
    soft_lo = new_lo
    soft_hi = np.where(np.isinf(soft_hi), np.inf, np.maximum(new_hi, new_lo))

    floor: float | None = None
    if c.target_cpa is not None:
        floor = 1.0 / float(c.target_cpa)
    revenue = False
    if c.target_roas is not None:
        if curves.value is None:
            raise ConstraintError(
                "target_roas needs curves with revenue per conversion (value); these curves have "
                "none"
            )
        floor = float(c.target_roas)
        revenue = True

    return Compiled(
        budget=budget,
        lo=soft_lo.astype(float),
        hi=soft_hi.astype(float),
        groups=tuple(groups),
        min_per_arm=m,
        step=float(c.step),
        floor=floor,
        revenue=revenue,
        notes=tuple(notes),
        previous=previous,
    )
