"""Policies: given the posterior's curves and today's constraints, how much each arm gets.

Every policy has ``allocate(curves, constraints, rng) -> spend`` and is stateless given its inputs:
yesterday's plan comes in as ``constraints.previous``. Every allocation is exact for the curves the
policy optimises (see :mod:`.solve`) and respects every constraint.

* :class:`InfoDirectedThompsonPolicy` (the default, ``"thompson"``): Thompson targets (each
  posterior draw solved exactly) as candidate directions, the plan chosen among partial moves toward
  them by information-directed sampling (expected regret squared over information gain), with a
  daily churn cap (and, opt-in, a switching cost that makes its greedy reference sticky).
* :class:`ThompsonPolicy` (``"thompson_smoothed"``): sample a posterior draw, solve it exactly,
  and move part of the way there from yesterday's plan. Knobs: ``batch`` (draws averaged: a
  calmer target), ``smoothing`` (fraction of the way to move each day: plain Thompson sampling
  reshuffles 12-17% of the budget daily; the defaults, two draws and half the way, bring that to
  5.8-6.8% on platforms and 11.5% across 20 posts, over 90 days from a cold start on the allocation
  benchmark, while keeping its exploration), ``explore_cap`` (at most this fraction of the budget
  may differ from the greedy plan: explore where it is cheap).
* :class:`GreedyPolicy`: the exact best split for the posterior-mean curve (no exploration).
* :class:`EpsilonGreedyPolicy`: greedy, but a random feasible split with probability ``eps``.
* :class:`UCBPolicy`: optimistic: each arm's curve is the posterior draw whose conversions at the
  greedy spend sit at the ``q`` quantile.
* :class:`UniformPolicy`: equal split (projected onto the constraints).
* :class:`OraclePolicy`: the best split for the true curves of a simulated world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amplify.allocate.constraints import Compiled, Constraints, compile_constraints
from amplify.allocate.objectives import Weights
from amplify.allocate.solve import _weights, project, solve_compiled, solve_sticky
from amplify.curves import ResponseCurves, mm_conversions

__all__ = [
    "POLICIES",
    "EpsilonGreedyPolicy",
    "GreedyPolicy",
    "InfoDirectedThompsonPolicy",
    "OraclePolicy",
    "Policy",
    "ThompsonPolicy",
    "UCBPolicy",
    "UniformPolicy",
    "churn",
    "get_policy",
]

FloatArray = NDArray[np.float64]


@runtime_checkable
class Policy(Protocol):
    """What the online loop calls each day."""

    name: str

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray: ...


def churn(previous: ArrayLike, spend: ArrayLike, budget: float | None = None) -> float:
    """Share of the budget moved between two plans: ``0.5 * sum(|spend - previous|) / budget``.

    Half the L1 distance is the money that changes place (what comes off one arm goes onto another);
    divided by ``budget`` (default: the new plan's total).
    """
    p = np.asarray(previous, dtype=float)
    s = np.asarray(spend, dtype=float)
    b = float(s.sum()) if budget is None else float(budget)
    return 0.0 if b <= 0 else float(0.5 * np.abs(s - p).sum() / b)


def _target_total(comp: Compiled, target: FloatArray) -> float | None:
    """Total to project onto: the budget, or the target's sum when a CPA/ROAS target spends less."""
    return None if comp.floor is None else float(target.sum())


#: Most (candidate x draw x arm) cells :class:`InfoDirectedThompsonPolicy` evaluates per plan.
_EVAL_CELLS = 4_000_000


def _continuous(comp: Compiled) -> Compiled:
    return replace(comp, step=0.0)


@dataclass(frozen=True)
class GreedyPolicy:
    """The exact best split for the posterior-mean curve (exploits, never explores)."""

    objective: Weights | None = None
    name: str = "greedy"

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        comp = compile_constraints(curves, c)
        return solve_compiled(curves, comp, objective=self.objective)[0]


@dataclass(frozen=True)
class ThompsonPolicy:
    """Thompson sampling with exact per-draw allocation, smoothed moves and capped exploration.

    Parameters
    ----------
    batch
        Posterior draws solved and averaged into today's target (1: plain Thompson sampling).
    smoothing
        Fraction of the way from yesterday's plan (``constraints.previous``) to the target moved
        today; 1 jumps to the target. Without a previous plan the target is played as is.
    explore_cap
        At most this fraction of the budget may differ from the greedy (posterior-mean) plan; None:
        no cap.
    objective
        :mod:`.objectives` weights (default conversions; revenue under a ROAS target).
    """

    batch: int = 2
    smoothing: float = 0.5
    explore_cap: float | None = None
    objective: Weights | None = None
    name: str = "thompson"

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"ThompsonPolicy: batch must be >= 1, got {self.batch}")
        if not 0.0 < self.smoothing <= 1.0:
            raise ValueError(f"ThompsonPolicy: smoothing must be in (0, 1], got {self.smoothing}")
        if self.explore_cap is not None and not 0.0 <= self.explore_cap <= 1.0:
            raise ValueError(
                f"ThompsonPolicy: explore_cap must be in [0, 1], got {self.explore_cap}"
            )

    def target(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        """Today's sampled target before smoothing (feasible, continuous)."""
        comp = _continuous(compile_constraints(curves, c))
        return self._target(curves, comp, rng)

    def _target(
        self, curves: ResponseCurves, comp: Compiled, rng: np.random.Generator
    ) -> FloatArray:
        draws = rng.choice(curves.n_draws, size=self.batch, replace=self.batch > curves.n_draws)
        target = solve_compiled(curves, comp, draws=draws, objective=self.objective).mean(axis=0)
        if self.explore_cap is not None:
            greedy = solve_compiled(curves, comp, objective=self.objective)[0]
            moved = 0.5 * float(np.abs(target - greedy).sum())
            cap = self.explore_cap * comp.budget
            if moved > cap:
                target = greedy + (target - greedy) * (cap / moved)
        return target

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        comp = compile_constraints(curves, c)
        target = self._target(curves, _continuous(comp), rng)
        x = target
        prev = comp.previous
        if prev is not None and self.smoothing < 1.0 and prev.sum() > 0:
            prev_scaled = prev * (target.sum() / prev.sum())
            x = prev_scaled + self.smoothing * (target - prev_scaled)
        return project(x, comp, total=_target_total(comp, target))[0]


@dataclass(frozen=True)
class InfoDirectedThompsonPolicy:
    """Thompson sampling that explores only where it pays: information-directed selection.

    Each day: the exact best split for each posterior draw (the Thompson targets ``x*_d``; up to
    ``eval_draws`` draws) and for their posterior-mean curve (``greedy``). The candidates are
    ``greedy`` and partial moves ``greedy + lam * (x*_d - greedy)`` toward ``batch`` sampled
    targets. Each candidate ``x`` has

    * an expected regret ``Delta(x) = E[V_d(x*_d)] - E[V_d(x)]`` (posterior means over draws of the
      value ``V``: conversions, or revenue, net of ``floor * spend`` under a CPA/ROAS target), and
    * an information gain ``g(x) = sum_arms 0.5 * log(1 + Var_d f_d(x) / noise(x))``: how much one
      day's conversions at ``x`` would tell about the curves, against count noise with variance
      ``mu + overdispersion * mu**2``.

    The plan is the candidate with the smallest ratio ``Delta**2 / g`` (information-directed
    sampling, Russo & Van Roy 2018): it moves toward a sampled optimum only as far as the
    information bought is worth the conversions given up, so it explores arms the posterior is
    unsure about when that is cheap and stays on the greedy plan when exploring would be expensive.
    Plain Thompson sampling plays one ``x*_d`` (``lam = 1``) whatever it costs.

    With a ``switching_cost`` (opt-in) the greedy reference is sticky: given yesterday's plan it is
    the best split for the posterior-mean curve net of that cost on every unit of money moved (in
    units of the plan's marginal return; :func:`~amplify.allocate.solve.solve_sticky`). Money moves
    only between arms whose marginal returns differ by more than twice the cost, so estimates that
    wobble from one day to the next do not reshuffle a plan that is already near its best. A
    detected change lifts the cost for ``change_window`` days. Not the default: on the allocation
    benchmark it cuts churn but loses 0.3-0.5 points of % of oracle on three of five variants
    (README, "Benchmarks").

    A daily trust region keeps the plan steady: at most ``max_churn`` of the budget changes place
    per day (``0.5 * sum |plan - yesterday| / budget``), except that the plan may always move a
    share ``follow_greedy`` of the way the greedy plan moved (by default all of it: exploitation is
    never held back by the cap), and all of it for ``change_window`` days after the curves' learner
    detected a change (``curves.meta["days_since_change"]``). A share below 1 gives steadier plans
    at some cost in conversions (see the README's benchmark section).

    Parameters
    ----------
    batch
        Thompson targets sampled per day as candidate directions.
    steps
        Fractions ``lam`` of the way toward each target.
    overdispersion
        ``1 / kappa`` of the daily count noise in the information gain.
    max_churn
        Daily churn cap (share of the budget), None: no cap.
    follow_greedy
        Share (0-1) of the greedy plan's move away from yesterday's plan that the plan may always
        make, whatever ``max_churn`` says.
    change_window
        Days after a detected change during which the plan may follow the greedy plan all the way.
    eval_draws
        Posterior draws used (a random subset when there are more): each is solved exactly, their
        mean curve gives the greedy plan, and they score the candidates.
    switching_cost
        Cost of moving money from yesterday's plan, as a share (0-1) of the marginal return of the
        greedy plan; 0 or None: the plain greedy plan.
    objective
        :mod:`.objectives` weights (default conversions; revenue under a ROAS target).
    """

    batch: int = 16
    steps: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
    overdispersion: float = 0.05
    max_churn: float | None = 0.05
    follow_greedy: float = 1.0
    change_window: int = 7
    eval_draws: int = 256
    switching_cost: float | None = None
    objective: Weights | None = None
    name: str = "thompson"

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"InfoDirectedThompsonPolicy: batch must be >= 1, got {self.batch}")
        if self.switching_cost is not None and not 0 <= self.switching_cost < 1:
            raise ValueError(
                "InfoDirectedThompsonPolicy: switching_cost must be in [0, 1), got "
                f"{self.switching_cost}"
            )
        if not self.steps or min(self.steps) <= 0 or max(self.steps) > 1:
            raise ValueError(
                f"InfoDirectedThompsonPolicy: steps must be in (0, 1], got {self.steps}"
            )
        if self.overdispersion < 0:
            raise ValueError(
                "InfoDirectedThompsonPolicy: overdispersion must be >= 0, got "
                f"{self.overdispersion}"
            )
        if self.max_churn is not None and not 0 < self.max_churn <= 1:
            raise ValueError(
                f"InfoDirectedThompsonPolicy: max_churn must be in (0, 1], got {self.max_churn}"
            )
        if not 0 <= self.follow_greedy <= 1 or self.change_window < 0:
            raise ValueError(
                "InfoDirectedThompsonPolicy: need 0 <= follow_greedy <= 1 and change_window >= 0, "
                f"got {self.follow_greedy}, {self.change_window}"
            )

    def _recent_change(self, curves: ResponseCurves) -> bool:
        """Whether the curves' learner detected a change within ``change_window`` days."""
        since = curves.meta.get("days_since_change")
        return isinstance(since, int) and since <= self.change_window

    def _reference(
        self, curves: ResponseCurves, comp: Compiled, previous: FloatArray | None
    ) -> FloatArray:
        """The greedy plan, net of the switching cost from ``previous`` when there is one."""
        recent = self._recent_change(curves)
        if not self.switching_cost or previous is None or previous.sum() <= 0 or recent:
            return solve_compiled(curves, comp, objective=self.objective)[0]
        prev = previous * (comp.budget / previous.sum()) if comp.floor is None else previous
        return solve_sticky(curves, comp, prev, self.switching_cost, objective=self.objective)

    def candidates(
        self, curves: ResponseCurves, comp: Compiled, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Candidate plans (first: the greedy reference), their expected regret and information
        gain."""
        cont = _continuous(comp)
        n_cand = 1 + len(self.steps) * self.batch
        # candidates x draws x arms stays below _EVAL_CELLS (a 500-post plan: ~80 draws)
        cap = max(32, _EVAL_CELLS // max(n_cand * curves.n_arms, 1))
        n_eval = min(curves.n_draws, self.eval_draws, cap)
        sub = curves.take_draws(np.sort(rng.choice(curves.n_draws, size=n_eval, replace=False)))
        greedy = self._reference(sub, cont, comp.previous)
        targets = solve_compiled(sub, cont, draws=np.arange(n_eval), objective=self.objective)
        pick = rng.choice(n_eval, size=min(self.batch, n_eval), replace=False)
        lam = np.asarray(self.steps, dtype=float)[:, None, None]
        moves = (greedy + lam * (targets[pick][None, :, :] - greedy)).reshape(-1, greedy.size)
        cands = np.concatenate([greedy[None, :], moves])
        w = _weights(sub, comp, self.objective)  # (D, n) value per conversion (1: conversions)
        floor = 0.0 if comp.floor is None else float(comp.floor)
        conv = mm_conversions(cands[:, None, :], sub.beta[None], sub.k[None])  # (C, D, n)
        value = conv.sum(-1) if np.all(w == 1.0) else (conv * w[None]).sum(-1)
        value = value - floor * cands.sum(-1)[:, None]  # (C, D)
        # the posterior mean of each draw's own optimum, minus each candidate's mean value
        own = (mm_conversions(targets, sub.beta, sub.k) * w).sum(-1) - floor * targets.sum(-1)
        regret = np.maximum(float(own.mean()) - value.mean(axis=1), 0.0)
        mu = conv.mean(axis=1)
        noise = mu + self.overdispersion * mu**2 + 1e-12
        gain = 0.5 * np.log1p(conv.var(axis=1) / noise).sum(axis=-1)
        return cands, regret, gain

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        comp = compile_constraints(curves, c)
        cands, regret, gain = self.candidates(curves, comp, rng)
        ratio = regret**2 / np.maximum(gain, 1e-300)
        ratio[gain <= 0] = np.where(regret[gain <= 0] > 0, np.inf, 0.0)
        choice = cands[int(np.argmin(ratio))]
        greedy = cands[0]
        total = _target_total(comp, choice)
        plan = project(choice, comp, total=total)[0]
        prev = comp.previous
        if self.max_churn is not None and prev is not None and comp.budget > 0:
            follow = 1.0 if self._recent_change(curves) else self.follow_greedy
            cap = max(self.max_churn, follow * churn(prev, greedy, comp.budget))
            moved = churn(prev, plan, comp.budget)
            if moved > cap:
                plan = project(prev + (cap / moved) * (plan - prev), comp, total=total)[0]
        return plan


@dataclass(frozen=True)
class EpsilonGreedyPolicy:
    """Greedy, except with probability ``eps`` a random feasible split (Dirichlet(1), projected)."""

    eps: float = 0.1
    objective: Weights | None = None
    name: str = "epsilon_greedy"

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"EpsilonGreedyPolicy: eps must be in [0, 1], got {self.eps}")

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        comp = compile_constraints(curves, c)
        if rng.random() < self.eps:
            x = rng.dirichlet(np.ones(curves.n_arms)) * comp.budget
            return project(x, comp)[0]
        return solve_compiled(curves, comp, objective=self.objective)[0]


@dataclass(frozen=True)
class UCBPolicy:
    """Optimism in the face of uncertainty: solve exactly on per-arm upper-quantile curves.

    For each arm, the optimistic curve is the posterior draw whose conversions at the greedy plan's
    spend (at least ``budget / (10 n_arms)``) sit at the ``q`` quantile across draws: a real curve
    (so the problem stays concave and exact) that is optimistic exactly where the policy would play.
    """

    q: float = 0.9
    name: str = "ucb"

    def __post_init__(self) -> None:
        if not 0.0 < self.q < 1.0:
            raise ValueError(f"UCBPolicy: q must be in (0, 1), got {self.q}")

    def optimistic_curves(self, curves: ResponseCurves, c: Constraints) -> ResponseCurves:
        """A one-draw :class:`ResponseCurves` of the per-arm upper-quantile curves."""
        comp = compile_constraints(curves, c)
        ref = solve_compiled(curves, _continuous(comp))[0]
        ref = np.maximum(ref, comp.budget / (10.0 * max(curves.n_arms, 1)))
        conv = curves.conversions(ref)  # (D, n)
        order = np.argsort(conv, axis=0, kind="stable")
        pick = order[int(np.floor(self.q * (curves.n_draws - 1))), :]
        cols = np.arange(curves.n_arms)
        return ResponseCurves(
            arms=curves.arms,
            beta=curves.beta[pick, cols][None, :],
            k=curves.k[pick, cols][None, :],
            platform=curves.platform,
            value=None if curves.value is None else curves.value[pick, cols][None, :],
            max_observed_spend=curves.max_observed_spend,
            meta=curves.meta,
        )

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        opt = self.optimistic_curves(curves, c)
        return solve_compiled(opt, compile_constraints(opt, c))[0]


@dataclass(frozen=True)
class UniformPolicy:
    """Equal spend per arm, projected onto the constraints (the no-model reference)."""

    name: str = "uniform"

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        comp = compile_constraints(curves, c)
        n = max(curves.n_arms, 1)
        return project(np.full(curves.n_arms, comp.budget / n), comp)[0]


#: ``truth(budget, lower, upper) -> spend``,
#: e.g. ``lambda b, lo, hi: world.oracle(b, day, lo, hi)``.
OracleFn = Callable[[float, FloatArray, FloatArray], ArrayLike]


@dataclass(frozen=True)
class OraclePolicy:
    """The best split for the truth of a simulated world.

    Parameters
    ----------
    truth
        True curves as :class:`ResponseCurves` (solved exactly for their mean; usually a single
        draw), or a callable ``truth(budget, lower, upper) -> spend`` given per-arm bounds (the
        world's own oracle, for true curves outside the model's family). Platform-sum bounds of post
        arms reach a callable only through the per-arm bounds.
    """

    truth: ResponseCurves | OracleFn
    name: str = "oracle"

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray:
        if isinstance(self.truth, ResponseCurves):
            return solve_compiled(self.truth, compile_constraints(self.truth, c))[0]
        comp = compile_constraints(curves, c)
        out = np.asarray(self.truth(comp.budget, comp.lo.copy(), comp.hi.copy()), dtype=float)
        if out.shape != (curves.n_arms,) or not np.all(np.isfinite(out)) or np.any(out < -1e-9):
            raise ValueError(
                f"OraclePolicy: truth returned {out.shape} values; need {curves.n_arms} finite, >= "
                f"0"
            )
        return np.maximum(out, 0.0)


#: Policies by name (default arguments), e.g. for a command line or a benchmark table.
POLICIES: dict[str, type] = {
    "thompson": InfoDirectedThompsonPolicy,
    "thompson_smoothed": ThompsonPolicy,
    "greedy": GreedyPolicy,
    "epsilon_greedy": EpsilonGreedyPolicy,
    "ucb": UCBPolicy,
    "uniform": UniformPolicy,
}


def get_policy(name: str, **kwargs: object) -> Policy:
    """A policy by name: ``"thompson"`` (the default, :class:`InfoDirectedThompsonPolicy`),
    ``"thompson_smoothed"``, ``"greedy"``, ``"epsilon_greedy"``, ``"ucb"``, ``"uniform"``."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}") from None
    policy: Policy = cls(**kwargs)
    return policy
