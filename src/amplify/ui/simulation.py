"""The Simulate page's experiment: policies on a simulated world, scored against the oracle.

Each policy plays the same :class:`~amplify.simulate.CampaignWorld` (same seed, so the same daily
shocks and noise) through :func:`amplify.campaign.simulate_rounds`, learning with the fast online
learner of :mod:`amplify.learn`. The oracle knows the true curves and splits each day's budget
perfectly; a policy's regret is the expected conversions it lost against the oracle, day by day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Policies shown by default, with the names the page uses for them.
POLICY_LABELS: dict[str, str] = {
    "thompson": "Thompson sampling (amplify)",
    "greedy": "Greedy (posterior mean)",
    "uniform": "Uniform split",
}
#: Colours of the policies in the regret chart (amplify's stands out; baselines are muted).
POLICY_COLORS: dict[str, str] = {
    POLICY_LABELS["thompson"]: "#D62728",
    POLICY_LABELS["greedy"]: "#1F77B4",
    POLICY_LABELS["uniform"]: "#9E9E9E",
}
VARIANTS: dict[str, str] = {
    "stationary": "Stable world",
    "mild_change": "One platform gets 30% worse half-way",
    "severe_change": "Best and worst platforms swap half-way",
    "drift": "Slow drift + weekly seasonality",
}


@dataclass(frozen=True)
class SimulationResult:
    """Per day and policy regret (``daily``) and one summary row per policy (``summary``)."""

    daily: pd.DataFrame
    summary: pd.DataFrame


def run_policies(
    *,
    days: int = 60,
    budget: float = 3000.0,
    seed: int = 7,
    variant: str = "stationary",
    policies: Sequence[str] = tuple(POLICY_LABELS),
    history_days: int = 7,
    n_draws: int = 128,
) -> SimulationResult:
    """Play each policy for ``days`` days on the same simulated world; score it against the oracle.

    Returns
    -------
    SimulationResult
        ``daily``: ``day, policy, expected, oracle, regret, cum_regret`` (true expectations);
        ``summary``: ``policy, conversions, oracle, pct_of_oracle, regret, churn_pct`` (share of the
        budget moved per day), ordered best first.
    """
    from amplify.allocate import Constraints
    from amplify.campaign import make_policy, simulate_rounds
    from amplify.learn import OnlineCurveLearner
    from amplify.simulate import CampaignWorld

    if days < 2:
        raise ValueError("simulate at least 2 days")
    world = CampaignWorld(seed, variant=variant, horizon=days, daily_budget=budget)
    oracle_spend = [np.asarray(world.oracle(budget, d), dtype=float) for d in range(days)]
    oracle = np.array([float(np.sum(world.expected(s, d))) for d, s in enumerate(oracle_spend)])
    history = world.history(history_days) if history_days > 0 else None
    constraints = Constraints(budget=budget)
    frames, rows = [], []
    for name in policies:
        learner = OnlineCurveLearner(
            world.arms, world.platform, reference_spend=budget / len(world.arms)
        )
        out = simulate_rounds(
            world,
            make_policy(name),
            learner,
            constraints,
            days,
            seed=seed,
            n_draws=n_draws,
            history=history,
        )
        expected = np.asarray(out["expected"], dtype=float).sum(axis=1)
        regret = oracle - expected
        label = POLICY_LABELS.get(name, name)
        frames.append(
            pd.DataFrame(
                {
                    "day": np.arange(1, days + 1),
                    "policy": label,
                    "expected": expected,
                    "oracle": oracle,
                    "regret": regret,
                    "cum_regret": np.cumsum(regret),
                }
            )
        )
        spend = np.asarray(out["spend_set"], dtype=float)
        churn = (
            np.abs(np.diff(spend, axis=0)).sum(axis=1).mean() / 2.0 / budget if days > 1 else 0.0
        )
        rows.append(
            {
                "policy": label,
                "conversions": float(expected.sum()),
                "oracle": float(oracle.sum()),
                "pct_of_oracle": float(100.0 * expected.sum() / oracle.sum()),
                "regret": float(regret.sum()),
                "churn_pct": float(100.0 * churn),
            }
        )
    summary = pd.DataFrame(rows).sort_values("regret", ignore_index=True)
    return SimulationResult(pd.concat(frames, ignore_index=True), summary)
