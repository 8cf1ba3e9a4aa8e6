"""Peer comparison: amplify's learner + exact allocator vs PyMC-Marketing's MMM + budget optimizer.

Same task for both, on stationary :class:`amplify.simulate.CampaignWorld` worlds (3 platforms, true
curves from other families, noisy counts): 60 days of daily platform spend and (fully reported)
conversions -> one daily split of a 3,000 budget for the next 30 days -> scored by the world's true
expected conversions as % of the oracle (the exact best split of each day's true curves).

* amplify: :class:`amplify.learn.OnlineCurveLearner` on the 60 days, then the exact best split for
  the posterior-mean curve (:func:`amplify.allocate.make_plan` with the greedy policy: for a plan
  held 30 days without feedback, the Bayes decision).
* PyMC-Marketing: its ``MMM`` (``GeometricAdstock(l_max=2)`` + ``LogisticSaturation``, the
  documented default pairing; NUTS with 2 chains x 500 draws after 500 tuning steps) on the daily
  total conversions with the three platforms' spends as channels, then ``mmm.budget_optimizer(...)
  .allocate_budget(3000)`` (a per-day budget over the 30-day window).

Wall times are per world, fit + plan, in this process (same machine, same load). PyMC-Marketing is
in the ``peer`` dependency group, never a runtime dependency. Run::

    UV_PROJECT_ENVIRONMENT=/tmp/peer-venv python -m uv run --group peer \
        python benchmarks/peer_pymc_marketing.py --seeds 10

(``python -m uv run --group peer ...`` also works but installs the group into the shared ``.venv``.)
Writes ``benchmarks/results/peer_pymc_marketing.json``; ``benchmarks/allocation.py`` merges it into
``allocation.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amplify.allocate import Constraints, GreedyPolicy, make_plan
from amplify.learn import OnlineCurveLearner
from amplify.simulate import CampaignWorld

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET = 3000.0
HISTORY = 60
HORIZON = 30


def score(world: CampaignWorld, plan: np.ndarray) -> float:
    """% of the oracle over the next ``HORIZON`` days for a plan held constant."""
    got = sum(world.expected(plan, d).sum() for d in range(HORIZON))
    best = sum(world.expected(world.oracle(BUDGET, d), d).sum() for d in range(HORIZON))
    return float(100.0 * got / best)


def amplify_plan(world: CampaignWorld, history: pd.DataFrame, seed: int) -> np.ndarray:
    learner = OnlineCurveLearner(world.arms, world.platform, reference_spend=BUDGET / 3)
    wide_s = history.pivot(index="day", columns="arm", values="spend")[list(world.arms)]
    wide_c = history.pivot(index="day", columns="arm", values="conversions")[list(world.arms)]
    for day in wide_s.index:
        learner.observe(int(day), wide_s.loc[day].to_numpy(), wide_c.loc[day].to_numpy(), age=99)
    learner.refresh()
    rng = np.random.default_rng(seed)
    curves = learner.curves(400, rng, around=wide_s.mean().to_numpy())
    plan = make_plan(curves, Constraints(budget=BUDGET), policy=GreedyPolicy(), rng=rng)
    return np.asarray(plan.spend, dtype=float)


def pymc_marketing_plan(world: CampaignWorld, history: pd.DataFrame, seed: int) -> np.ndarray:
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    arms = list(world.arms)
    wide = history.pivot(index="day", columns="arm", values="spend")[arms].reset_index(drop=True)
    y = history.groupby("day")["conversions"].sum().reset_index(drop=True)
    dates = pd.date_range("2026-01-01", periods=len(wide), freq="D")
    X = wide.assign(date=dates)[["date", *arms]]
    mmm = MMM(
        date_column="date",
        channel_columns=arms,
        target_column="y",
        adstock=GeometricAdstock(l_max=2),
        saturation=LogisticSaturation(),
    )
    mmm.fit(X, y.rename("y"), chains=2, draws=500, tune=500, random_seed=seed, progressbar=False)
    start = dates[-1] + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=HORIZON - 1)
    optimizer = mmm.budget_optimizer(start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"))
    result = optimizer.allocate_budget(BUDGET)
    budgets = result.budgets
    return np.array([float(budgets.sel(channel=a)) for a in arms])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS / "peer_pymc_marketing.json")
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="reuse PyMC-Marketing's plans and wall times from this earlier output",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    reuse: dict[int, dict[str, Any]] = {}
    if args.reuse is not None:
        earlier = json.loads(args.reuse.read_text())
        reuse = {int(r["seed"]): r["pymc_marketing"] for r in earlier["per_seed"]}
        version = earlier["versions"]["pymc_marketing"]
    else:
        import pymc_marketing

        version = pymc_marketing.__version__

    per_seed: list[dict[str, Any]] = []
    for i in range(args.seeds):
        seed = 1000 + i
        world = CampaignWorld(seed, horizon=HORIZON)
        history = world.history(HISTORY)
        t0 = time.perf_counter()
        amp = amplify_plan(world, history, seed)
        t_amp = time.perf_counter() - t0
        if seed in reuse:
            pmm, t_pmm = np.asarray(reuse[seed]["plan"]), float(reuse[seed]["wall_s"])
        else:
            t0 = time.perf_counter()
            pmm = pymc_marketing_plan(world, history, seed)
            t_pmm = time.perf_counter() - t0
        row = {
            "seed": seed,
            "amplify": {"plan": amp.tolist(), "pct_oracle": score(world, amp), "wall_s": t_amp},
            "pymc_marketing": {
                "plan": pmm.tolist(),
                "pct_oracle": score(world, pmm),
                "wall_s": t_pmm,
            },
            "uniform_pct_oracle": score(world, np.full(3, BUDGET / 3)),
            "oracle_day0": world.oracle(BUDGET, 0).tolist(),
        }
        per_seed.append(row)
        print(
            f"seed {seed}: amplify {row['amplify']['pct_oracle']:.2f}% in {t_amp:.2f} s, "
            f"pymc-marketing {row['pymc_marketing']['pct_oracle']:.2f}% in {t_pmm:.1f} s, "
            f"uniform {row['uniform_pct_oracle']:.2f}%",
            flush=True,
        )

    def agg(key: str) -> dict[str, float]:
        pct = np.array([r[key]["pct_oracle"] for r in per_seed])
        wall = np.array([r[key]["wall_s"] for r in per_seed])
        return {"pct_oracle_mean": float(pct.mean()), "wall_s": float(wall.mean())}

    diff = np.array(
        [r["amplify"]["pct_oracle"] - r["pymc_marketing"]["pct_oracle"] for r in per_seed]
    )
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    out = {
        "amplify": agg("amplify"),
        "pymc_marketing": agg("pymc_marketing"),
        "uniform_pct_oracle_mean": float(np.mean([r["uniform_pct_oracle"] for r in per_seed])),
        "paired_diff_amplify_minus_pymc_marketing": {
            "mean": float(diff.mean()),
            "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
        },
        "wall_ratio_amplify_over_pymc_marketing": agg("amplify")["wall_s"]
        / agg("pymc_marketing")["wall_s"],
        "n_worlds": len(per_seed),
        "task": f"{HISTORY} days of history -> one daily split for the next {HORIZON} days",
        "versions": {"pymc_marketing": version},
        "pymc_marketing_reused_from": None if args.reuse is None else str(args.reuse),
        "per_seed": per_seed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("amplify", "pymc_marketing")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
