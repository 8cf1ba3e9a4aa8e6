"""Turn posterior response curves into budget decisions: constraints, exact solver, policies, plans.

Never imports PyMC: it works on :class:`~amplify.curves.ResponseCurves` (plain arrays of posterior
draws).

>>> from amplify.allocate import Constraints, PlatformBounds, make_plan
>>> c = Constraints(budget=3000, bounds={"tiktok": PlatformBounds(max=800)})
>>> plan = make_plan(curves, c, rng=0)            # doctest: +SKIP
>>> plan.per_platform[["spend", "conv_mean", "conv_p10", "conv_p90", "prob_best"]]  # doctest: +SKIP
"""

from amplify.allocate import objectives, policies
from amplify.allocate.constraints import (
    Compiled,
    ConstraintError,
    Constraints,
    PlatformBounds,
    compile_constraints,
)
from amplify.allocate.plan import EXTRAPOLATION_WARN, Plan, make_plan, summarize
from amplify.allocate.policies import (
    EpsilonGreedyPolicy,
    GreedyPolicy,
    InfoDirectedThompsonPolicy,
    OraclePolicy,
    Policy,
    ThompsonPolicy,
    UCBPolicy,
    UniformPolicy,
    churn,
    get_policy,
)
from amplify.allocate.solve import (
    project,
    solve,
    solve_compiled,
    solve_draws,
    solve_scipy,
    solve_sticky,
)
from amplify.allocate.target import BudgetAnswer, budget_for_target

__all__ = [
    "EXTRAPOLATION_WARN",
    "BudgetAnswer",
    "Compiled",
    "ConstraintError",
    "Constraints",
    "EpsilonGreedyPolicy",
    "GreedyPolicy",
    "InfoDirectedThompsonPolicy",
    "OraclePolicy",
    "Plan",
    "PlatformBounds",
    "Policy",
    "ThompsonPolicy",
    "UCBPolicy",
    "UniformPolicy",
    "budget_for_target",
    "churn",
    "compile_constraints",
    "get_policy",
    "make_plan",
    "objectives",
    "policies",
    "project",
    "solve",
    "solve_compiled",
    "solve_draws",
    "solve_scipy",
    "solve_sticky",
    "summarize",
]
