"""Allocation benchmark: the online loop's policies against the oracle on simulated campaign worlds.

Run ``python benchmarks/allocation.py`` (full: 100 seeds, 2 worker processes; 8 min 21 s on an
idle 2-core machine) or ``python benchmarks/allocation.py --quick`` (a few
seeds, < 3 min). Writes ``benchmarks/results/allocation.json`` and
``benchmarks/results/regret.png``. An alternative learner or default-policy setting is one command
too, e.g. ``--learner log_k_prior_sd=1.5 --out /tmp/k15`` or ``--thompson switching_cost=0.05 --out
/tmp/sticky`` (its JSON records the settings and the command).

Set-up (``amplify.simulate.CampaignWorld``): 90 daily decisions from a cold start (no history unless
``--history-days``); true curves from families the model does not assume (Hill with slopes 0.7..2,
power law, tanh; drawn per arm); daily shocks, negative-binomial counts, actual spend deviating from
the set spend by ~5%, conversions reported over 0..6 days. Every policy plays the same worlds with
the same noise (paired). Variants: ``stationary`` (3 platforms), ``stationary_posts20`` (20 post
arms), ``mild_change`` (the largest arm loses 30% at day 45), ``severe_change`` (best and worst arm
swap at day 45), ``drift`` (smooth drift of every arm plus weekly seasonality).

Scores (per world, then averaged over seeds):

* ``pct_oracle`` = 100 x sum over days of the true expected conversions of the plan / the same for
  the oracle's plan (the exact best split of the day's true curves). ``_p10`` is the 10th percentile
  over worlds, ``_last14`` uses the last 14 days only.
* ``gap_captured`` = (mean pct_oracle - uniform's) / (100 - uniform's): the share of the uniform ->
  oracle gap.
* ``churn_pct`` = 100 x mean over days 1..89 of 0.5 x sum_arms |plan_t - plan_{t-1}| / budget: the
  share of the budget that changes place each day (the plans as set, not the noisy actual spend).
  ``churn_settled_pct`` is the same from day 14 on: from a cold start the first days' plans move
  13-27% of the budget a day while the curves are learned, and dominate the 90-day mean.
* ``gap_captured_ci95``: a 95% bootstrap interval of ``gap_captured`` (worlds resampled).
* ``learner_calibration``: are the learner's intervals honest? After 3, 10, 30 and 60 days of the
  default policy on the stationary worlds, the coverage of the truth (expected conversions per arm
  and in total, marginal return per arm, at the plan in force) by the learner's central 80% and 95%
  intervals, and the mean PIT (0.5 when unbiased).

``paired_vs_greedy`` gives each policy's mean paired difference in pct_oracle to greedy with a 95%
interval. ``per_world_pct_oracle`` keeps every world's pct_oracle by seed, so that a later run given
``--baseline`` this file reports ``paired_vs_baseline``: each policy's paired difference to the same
policy here (a changed default measured world by world, not mean against mean). The ``peer``
block is read from ``benchmarks/results/peer_pymc_marketing.json`` written by
``benchmarks/peer_pymc_marketing.py`` (run in the ``peer`` dependency group), when it exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from amplify.allocate import Constraints, InfoDirectedThompsonPolicy, get_policy, make_plan
from amplify.campaign import make_policy, simulate_rounds
from amplify.curves import ResponseCurves
from amplify.learn import LearnerConfig, OnlineCurveLearner
from amplify.simulate import CampaignWorld

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET = 3000.0
ROUNDS = 90
#: name -> (CampaignWorld variant, number of post arms or 0 for the three platforms)
VARIANTS: dict[str, tuple[str, int]] = {
    "stationary": ("stationary", 0),
    "stationary_posts20": ("stationary", 20),
    "mild_change": ("mild_change", 0),
    "severe_change": ("severe_change", 0),
    "drift": ("drift", 0),
}
#: seed of the first world: worlds ``FIRST_SEED .. FIRST_SEED + seeds - 1``
FIRST_SEED = 1000
#: days of cold-start learning left out of ``churn_settled_pct``
LEARNING_DAYS = 14
#: bootstrap resamples of the worlds behind ``gap_captured_ci95``
GAP_BOOTSTRAP = 2000
POLICIES: tuple[str, ...] = ("thompson", "greedy", "epsilon_greedy", "ucb", "uniform")
#: reported outside the main table (on the first ``--extra-seeds`` worlds): classic Thompson
#: sampling (one sampled optimum per day, the plan moved half-way toward it)
EXTRA_POLICIES: tuple[str, ...] = ("thompson_smoothed",)


def make_world(variant: str, seed: int) -> CampaignWorld:
    kind, posts = VARIANTS[variant]
    if posts:
        return CampaignWorld.posts(seed, posts, variant=kind, horizon=ROUNDS, daily_budget=BUDGET)
    return CampaignWorld(seed, variant=kind, horizon=ROUNDS, daily_budget=BUDGET)


def oracle_plans_of(world: CampaignWorld) -> list[np.ndarray]:
    """The oracle's plan of every day (solved once per distinct set of true curves)."""
    cache: dict[bytes, np.ndarray] = {}
    plans = []
    for r in range(ROUNDS):
        c = world.curves(r)
        key = "|".join(c.family).encode() + b"".join(
            np.asarray(a, dtype=float).tobytes() for a in (c.scale, c.K, c.shape)
        )
        if key not in cache:
            cache[key] = world.oracle(BUDGET, r)
        plans.append(cache[key])
    return plans


def run_world(
    job: tuple[str, int, Sequence[str], int, LearnerConfig, dict[str, Any]],
) -> dict[str, Any]:
    """All policies on one world (same seed, same noise): daily expected conversions and churn.

    ``job`` is ``(variant, seed, policies, history_days, learner config, settings of the default
    policy)``."""
    variant, seed, policies, history_days, config, thompson_kw = job
    world = make_world(variant, seed)
    n = len(world.arms)
    oracle_plans = oracle_plans_of(world)
    oracle = np.array([world.expected(p, r).sum() for r, p in enumerate(oracle_plans)])
    history = world.history(history_days) if history_days > 0 else None
    out: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "oracle": oracle.tolist(),
        "policies": {},
    }
    for name in policies:
        t0 = time.perf_counter()
        if name == "uniform":
            plans = np.full((ROUNDS, n), BUDGET / n)
            daily = np.array([world.expected(plans[r], r).sum() for r in range(ROUNDS)])
        else:
            learner = OnlineCurveLearner(
                world.arms,
                world.platform,
                reference_spend=BUDGET / n,
                config=config,
            )
            res = simulate_rounds(
                world,
                get_policy(name, **thompson_kw) if name == "thompson" else make_policy(name),
                learner,
                Constraints(budget=BUDGET),
                ROUNDS,
                seed=seed,
                history=history,
            )
            plans = res["spend_set"]
            daily = res["expected"].sum(axis=1)
        moved = 0.5 * np.abs(np.diff(plans, axis=0)).sum(axis=1) / BUDGET
        out["policies"][name] = {
            "daily": daily.tolist(),
            "churn": float(100.0 * moved.mean()),
            # moves into days LEARNING_DAYS.. (the first days' moves are cold-start learning)
            "churn_settled": float(100.0 * moved[LEARNING_DAYS - 1 :].mean()),
            "wall_s": time.perf_counter() - t0,
        }
    return out


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(np.mean(x))
    half = 1.96 * float(np.std(x, ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else float("nan")
    return m, m - half, m + half


def _paired(diff: np.ndarray) -> dict[str, Any]:
    """Mean paired difference over worlds with its 95% interval."""
    m, lo, hi = _ci(diff)
    return {"mean_diff": m, "ci95": [lo, hi], "n_worlds": len(diff)}


def _gap_share(pct: Any, uniform: Any) -> np.ndarray:
    """Share of the uniform -> oracle gap, ``(pct - uniform) / (100 - uniform)``; NaN where uniform
    is already at the oracle (or missing)."""
    p, u = np.asarray(pct, dtype=float), np.asarray(uniform, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u < 100.0, (p - u) / (100.0 - u), np.nan)


def _gap_ci(pct: np.ndarray, uniform: np.ndarray) -> list[float]:
    """95% bootstrap interval of ``gap_captured``: worlds resampled, paired with uniform, seeded."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(pct), size=(GAP_BOOTSTRAP, len(pct)))
    gap = _gap_share(pct[idx].mean(axis=1), uniform[idx].mean(axis=1))
    return [float(q) for q in np.percentile(gap, [2.5, 97.5])]


def aggregate(
    results: list[dict[str, Any]], policies: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Per-variant tables, paired differences to greedy, mean daily % of oracle curves and the
    per-world % of oracle (by seed, so a later run can be paired with this one)."""
    table: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    per_world: dict[str, Any] = {}
    for variant in VARIANTS:
        rows = sorted((r for r in results if r["variant"] == variant), key=lambda r: r["seed"])
        if not rows:
            continue
        oracle = np.array([r["oracle"] for r in rows])  # (S, T)
        pct: dict[str, np.ndarray] = {}
        stats: dict[str, dict[str, float]] = {}
        for name in policies:
            daily = np.array([r["policies"][name]["daily"] for r in rows])
            pct[name] = 100.0 * daily.sum(axis=1) / oracle.sum(axis=1)
            last = 100.0 * daily[:, -14:].sum(axis=1) / oracle[:, -14:].sum(axis=1)
            stats[name] = {
                "pct_oracle_mean": float(pct[name].mean()),
                "pct_oracle_p10": float(np.percentile(pct[name], 10)),
                "pct_oracle_last14_mean": float(last.mean()),
                "churn_pct": float(np.mean([r["policies"][name]["churn"] for r in rows])),
                "churn_settled_pct": float(
                    np.mean([r["policies"][name]["churn_settled"] for r in rows])
                ),
            }
            curves.setdefault(variant, {})[name] = (100.0 * daily / oracle).mean(axis=0).tolist()
        uni = stats["uniform"]["pct_oracle_mean"] if "uniform" in stats else float("nan")
        for name in policies:
            stats[name]["gap_captured"] = float(_gap_share(stats[name]["pct_oracle_mean"], uni))
            if "uniform" in pct and len(rows) > 1:
                stats[name]["gap_captured_ci95"] = _gap_ci(pct[name], pct["uniform"])
        per_world[variant] = {"seeds": [r["seed"] for r in rows]} | {
            name: pct[name].tolist() for name in policies
        }
        table[variant] = {
            name: {
                k: stats[name][k]
                for k in (
                    "pct_oracle_mean",
                    "pct_oracle_p10",
                    "pct_oracle_last14_mean",
                    "gap_captured",
                    "gap_captured_ci95",
                    "churn_pct",
                    "churn_settled_pct",
                )
                if k in stats[name]
            }
            for name in policies
        }
        if "greedy" in pct:
            paired[variant] = {}
            for name in policies:
                if name == "greedy":
                    continue
                paired[variant][name] = _paired(pct[name] - pct["greedy"])
    return table, paired, curves, per_world


def paired_vs_baseline(per_world: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Paired difference in pct_oracle of each policy to the same policy in an earlier run.

    Worlds are matched by seed; variants, policies or seeds the earlier run lacks are skipped.
    """
    out: dict[str, Any] = {}
    for variant, now in per_world.items():
        old = baseline.get(variant)
        if old is None:
            continue
        where = {seed: i for i, seed in enumerate(old["seeds"])}
        both = [(i, where[seed]) for i, seed in enumerate(now["seeds"]) if seed in where]
        if len(both) < 2:
            continue
        i_now, i_old = (list(ix) for ix in zip(*both, strict=True))
        for name, values in now.items():
            if name == "seeds" or name not in old:
                continue
            diff = np.asarray(values)[i_now] - np.asarray(old[name])[i_old]
            out.setdefault(variant, {})[name] = _paired(diff)
    return out


def latency() -> tuple[float, float]:
    """Milliseconds for a platform plan from 2,000 draws and for a 500-post plan (medians)."""
    rng = np.random.default_rng(0)
    plat = ResponseCurves(
        arms=("facebook", "instagram", "tiktok"),
        beta=rng.gamma(20.0, 0.002, size=(2000, 3)),
        k=rng.lognormal(np.log(1000.0), 0.3, size=(2000, 3)),
        platform=("facebook", "instagram", "tiktok"),
    )
    n_posts = 500
    plats = tuple(("facebook", "instagram", "tiktok")[i % 3] for i in range(n_posts))
    posts = ResponseCurves(
        arms=tuple(f"{p}:p{i}" for i, p in enumerate(plats)),
        beta=rng.gamma(10.0, 0.003, size=(1000, n_posts)) * rng.lognormal(0, 0.5, n_posts),
        k=rng.lognormal(np.log(60.0), 0.4, size=(1000, n_posts)),
        platform=plats,
    )

    def best_ms(curves: ResponseCurves, budget: float, reps: int) -> float:
        times = []
        for i in range(reps):
            t0 = time.perf_counter()
            make_plan(curves, Constraints(budget=budget), rng=np.random.default_rng(i))
            times.append(1000.0 * (time.perf_counter() - t0))
        return float(np.median(times))

    best_ms(plat, BUDGET, 2)  # warm-up (imports, caches)
    return best_ms(plat, BUDGET, 7), best_ms(posts, 20000.0, 3)


def learner_vs_refit(
    seed: int = 7, days: int = 40, config: LearnerConfig | None = None
) -> dict[str, Any]:
    """The fast learner against a full refit of the same model on the same data by PyMC's SMC.

    Data: ``days`` days of a stationary CampaignWorld with spends varied around the even split,
    fully reported, with their paid impressions. The refit's model is the learner's own (from
    :meth:`OnlineCurveLearner.design`): continuous ``log k`` with the same truncated normal prior,
    the Hill shape ``n`` marginalised over the same grid and prior, ``beta | k, n`` Gamma with the
    same empirical-Bayes rate, the same quasi-likelihood weights, and the impressions' marginal
    likelihood of ``(k, n)`` (log-normal around the same curve, scale and noise integrated out,
    coarsened as the learner does). What differs is only the grid over ``k`` (exact up to the
    grid). The sampler is sequential Monte Carlo (``pm.sample_smc``, two independent runs): with
    the impressions, the posterior of an arm's ``log k`` can have one mode per Hill shape, which
    NUTS chains do not cross (on this data, uncoarsened, two NUTS chains gave r_hat 1.55).
    Compared: posterior mean and 5-95% interval of the expected daily conversions at 0.5x, 1x, 2x
    the reference spend, per arm. On this stationary data the learner keeps arm 0's level static
    (level discount 1, checked), the model refitted here.
    """
    import pymc as pm
    import pytensor.tensor as pt

    world = CampaignWorld(seed)
    rng = np.random.default_rng(seed)
    ref = BUDGET / 3
    learner = OnlineCurveLearner(world.arms, world.platform, reference_spend=ref, config=config)
    for d in range(days):
        out = world.step(ref * np.exp(0.4 * rng.normal(size=3)), d)
        learner.observe(d, out.spend, out.conversions, age=30, impressions=out.impressions)
    t0 = time.perf_counter()
    learner.refresh()
    t_fast = time.perf_counter() - t0
    des = learner.design()
    if des["level_discount"][0] < 1.0:
        # the refit below is the static-level model; it would check a different posterior
        raise RuntimeError(
            f"learner_vs_refit: the learner discounts arm 0's level ({des['level_discount'][0]}) "
            "on this data; the refit assumes a static level"
        )
    shapes = np.unique(des["n"][0])
    log_pi = np.array([des["log_prior"][0][des["n"][0] == n].max() for n in shapes])
    log_pi = log_pi - np.log(np.exp(log_pi).sum())  # the k part is the same normal for every n
    lo, hi = np.log(des["k"][0].min() / ref), np.log(des["k"][0].max() / ref)
    sd = learner.config.log_k_prior_sd
    s, c, f, w = des["spend"], des["conversions"], des["reported_share"], des["weight"]
    a0, rate = des["shape"], des["rate_mean"]
    has_impr = np.isfinite(des["log_impressions"])
    log_impr = np.where(has_impr, des["log_impressions"], 0.0)
    w_impr = np.where(has_impr, des["impressions_weight"], 0.0)
    m_impr = w_impr.sum(axis=0)
    nu0, sd0 = des["impressions_noise_prior"]
    coarsening = des["impressions_coarsening"]

    def g(spend: Any, k: Any, n: float) -> Any:
        x = (spend / k) ** n
        return k * x / (1.0 + x)

    def impressions_loglik(log_g: Any, log: Any) -> Any:
        """The impressions' marginal likelihood of each arm's ``(k, n)``; ``log_g``: (..., D, 3)."""
        r = log_impr - log_g
        mean = (w_impr * r).sum(axis=-2) / m_impr
        ss = (w_impr * (r - mean[..., None, :]) ** 2).sum(axis=-2)
        return -0.5 * coarsening * (nu0 + m_impr - 1.0) * log(nu0 * sd0**2 + ss)

    t0 = time.perf_counter()
    with pm.Model():
        u = pm.Uniform("u", lo, hi, shape=3)  # log(k / reference)
        pm.Potential("k_prior", -0.5 * pt.sum((u / sd) ** 2))
        # SMC draws its first particles from the priors, so log_beta gets a wide proper normal
        # whose density the next potential takes back out: the target is the learner's model
        centre = np.log(rate)
        log_beta = pm.Normal("log_beta", centre, 3.0, shape=3)
        pm.Potential("not_the_prior", pt.sum(0.5 * ((log_beta - centre) / 3.0) ** 2))
        beta = pt.exp(log_beta)
        pm.Potential("jacobian", pt.sum(log_beta))
        k = ref * pt.exp(u)
        terms = []
        for i, n in enumerate(shapes):
            gi = g(s, k[None, :], float(n))  # (D, 3)
            b0 = a0 / (rate * ref / g(ref, k, float(n)))
            log_gamma = a0 * pt.log(b0) - pm.math.gammaln(a0) + (a0 - 1) * log_beta - b0 * beta
            mu = beta[None, :] * gi * f
            loglik = pt.sum(w * (c * pt.log(pt.maximum(mu, 1e-300)) - mu), axis=0)
            loglik = loglik + impressions_loglik(pt.log(gi), pt.log)
            terms.append(log_pi[i] + log_gamma + loglik)
        pm.Potential("lik", pt.sum(pt.logsumexp(pt.stack(terms), axis=0)))
        idata = pm.sample_smc(draws=2000, chains=2, random_seed=seed, progressbar=False)
    t_refit = time.perf_counter() - t0
    import arviz as az

    summ = az.summary(idata, var_names=["u", "log_beta"])
    post = idata.posterior
    u_d = post["u"].values.reshape(-1, 3)
    lb_d = post["log_beta"].values.reshape(-1, 3)
    k_d, b_d = ref * np.exp(u_d), np.exp(lb_d)
    # n | beta, k from the same mixture, then the expected conversions per draw
    logits = []
    for i, n in enumerate(shapes):
        gi = g(s[None, :, :], k_d[:, None, :], float(n))
        b0 = a0 / (rate * ref / g(ref, k_d, float(n)))
        log_gamma = a0 * np.log(b0) + (a0 - 1) * lb_d - b0 * b_d
        mu = b_d[:, None, :] * gi * f[None]
        loglik = np.sum(w[None] * (c[None] * np.log(np.maximum(mu, 1e-300)) - mu), axis=1)
        loglik = loglik + impressions_loglik(np.log(gi), np.log)
        logits.append(log_pi[i] + log_gamma + loglik)
    lg = np.stack(logits)  # (N_shapes, draws, 3)
    p = np.exp(lg - lg.max(axis=0))
    p /= p.sum(axis=0)
    pick_rng = np.random.default_rng(seed)
    cum = np.cumsum(p, axis=0)
    pick = (cum < pick_rng.random(p.shape[1:])[None]).sum(axis=0).clip(0, len(shapes) - 1)
    n_d = shapes[pick]
    rows = []
    for mult in (0.5, 1.0, 2.0):
        spend = ref * mult
        refit = b_d * g(spend, k_d, n_d)
        fast = learner.predict_draws(np.full(3, spend), 20000, np.random.default_rng(1))
        for j, arm in enumerate(world.arms):
            nq = np.percentile(refit[:, j], [5, 95])
            fq = np.percentile(fast[:, j], [5, 95])
            rows.append(
                {
                    "arm": arm,
                    "spend": spend,
                    "refit_mean": float(refit[:, j].mean()),
                    "fast_mean": float(fast[:, j].mean()),
                    "rel_err_mean": float(fast[:, j].mean() / refit[:, j].mean() - 1.0),
                    "rel_err_width90": float((fq[1] - fq[0]) / (nq[1] - nq[0]) - 1.0),
                    "refit_sd_rel": float(refit[:, j].std() / refit[:, j].mean()),
                }
            )
    errs = np.array([abs(r["rel_err_mean"]) for r in rows])
    werrs = np.array([abs(r["rel_err_width90"]) for r in rows])
    return {
        "max_abs_rel_err_mean": float(errs.max()),
        "mean_abs_rel_err_mean": float(errs.mean()),
        "max_abs_rel_err_width90": float(werrs.max()),
        "mean_abs_rel_err_width90": float(werrs.mean()),
        "fast_refresh_s": t_fast,
        "refit_s": t_refit,
        "refit_sampler": "pymc.sample_smc (2 runs x 2000 particles)",
        "refit_max_rhat": float(summ["r_hat"].max()),
        "refit_min_ess_bulk": float(summ["ess_bulk"].min()),
        "days": days,
        "rows": rows,
    }


CALIBRATION_DAYS: tuple[int, ...] = (3, 10, 30, 60)


def _calibration_world(job: tuple[int, tuple[int, ...], LearnerConfig]) -> dict[str, Any]:
    """One stationary world: the posterior's PIT values of the truth at the plan on each day."""
    seed, days, config = job
    world = make_world("stationary", seed)
    n = len(world.arms)
    learner = OnlineCurveLearner(
        world.arms, world.platform, reference_spend=BUDGET / n, config=config
    )
    out: dict[str, Any] = {}

    def check(r: int, x: np.ndarray) -> None:
        """After ``r + 1`` days: the learner's draws at the plan in force against the truth."""
        day = r + 1
        if day not in days:
            return
        cur = learner.curves(4000, np.random.default_rng([seed, day]), around=x)
        level = cur.conversions(x)  # (draws, arms)
        true_level = world.expected(x, day)
        step = 1e-3 * BUDGET
        true_marginal = (world.expected(x + step * np.eye(n), day).diagonal() - true_level) / step
        out[str(day)] = {
            "level": (level < true_level).mean(axis=0).tolist(),
            "plan_total": [float((level.sum(axis=1) < true_level.sum()).mean())],
            "marginal": (cur.marginal(x) < true_marginal).mean(axis=0).tolist(),
        }

    simulate_rounds(
        world,
        make_policy("thompson"),
        learner,
        Constraints(budget=BUDGET),
        max(days),
        seed=seed,
        on_round=check,
    )
    return out


def learner_calibration(
    first_seed: int,
    n_seeds: int,
    config: LearnerConfig | None = None,
    days: tuple[int, ...] = CALIBRATION_DAYS,
    workers: int = 2,
) -> dict[str, Any]:
    """Are the learner's intervals honest? Coverage of the truth on stationary worlds.

    The default policy runs ``day`` days from a cold start; then the learner's posterior draws at
    the plan in force (the curves the allocator and the plan's intervals are computed from, tangent
    at that plan) are compared with the world's true curves there: per arm the expected daily
    conversions (``level``) and the marginal conversions per unit of spend (``marginal``), and the
    plan's total. Coverage of the central 80% and 95% intervals over worlds and arms (nominal 0.80
    and 0.95) and the mean PIT (share of draws below the truth; 0.5 when unbiased).
    """
    jobs = [(first_seed + s, tuple(days), config or LearnerConfig()) for s in range(n_seeds)]
    if workers <= 1:
        worlds = [_calibration_world(job) for job in jobs]
    else:
        ctx = get_context("fork" if sys.platform != "win32" else "spawn")
        with ctx.Pool(workers) as pool:
            worlds = pool.map(_calibration_world, jobs, chunksize=1)
    out: dict[str, Any] = {"seeds": n_seeds, "first_seed": first_seed, "days": {}}
    for day in days:
        block = {}
        for what in ("level", "plan_total", "marginal"):
            pit = np.concatenate([w[str(day)][what] for w in worlds])
            block[what] = {
                "cover80": float(np.mean((pit > 0.1) & (pit < 0.9))),
                "cover95": float(np.mean((pit > 0.025) & (pit < 0.975))),
                "pit_mean": float(pit.mean()),
                "n": int(pit.size),
            }
        out["days"][str(day)] = block
    return out


def plot(curves: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, variant in zip(axes, names, strict=True):
        for policy, ys in curves[variant].items():
            y = np.asarray(ys)
            smooth = np.convolve(y, np.ones(5) / 5, mode="valid")
            ax.plot(
                np.arange(2, 2 + smooth.size),
                smooth,
                label=policy,
                lw=2 if policy == "thompson" else 1,
            )
        if "change" in variant:
            ax.axvline(ROUNDS // 2, color="grey", ls=":", lw=1)
        ax.set_title(variant)
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% of oracle (5-day mean)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Daily expected conversions as % of the oracle, mean over worlds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _settings(
    ap: argparse.ArgumentParser, flag: str, items: Sequence[str], cls: type, example: str
) -> tuple[dict[str, Any], Any]:
    """``KEY=VALUE`` pairs (VALUE as JSON, else a string) and the dataclass ``cls`` of them."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            ap.error(f"{flag} {item!r}: write KEY=VALUE, e.g. {example}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = tuple(value) if isinstance(value, list) else value
    known = {f.name for f in dataclasses.fields(cls)} - {"name", "objective"}
    if unknown := sorted(set(out) - known):
        ap.error(f"{flag}: unknown setting(s) {unknown}; known: {sorted(known)}")
    try:
        return out, cls(**out)
    except (TypeError, ValueError) as exc:
        ap.error(f"{flag}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 seeds, no refit check (< 3 minutes)")
    ap.add_argument(
        "--seeds", type=int, default=None, help="worlds per variant (default 100; quick 3)"
    )
    ap.add_argument(
        "--first-seed",
        type=int,
        default=FIRST_SEED,
        help=f"seed of the first world (default {FIRST_SEED}; other seeds check that a result "
        "holds beyond the benchmark's own worlds)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--variants", nargs="*", default=None, help=f"subset of {list(VARIANTS)}")
    ap.add_argument(
        "--history-days", type=int, default=0, help="pre-period days given to the learner"
    )
    ap.add_argument("--no-extra", action="store_true", help="skip the extra reference policies")
    ap.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the learner-vs-full-refit check (default: in the full run only)",
    )
    ap.add_argument("--extra-seeds", type=int, default=30, help="worlds for the extra policies")
    ap.add_argument(
        "--learner",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a LearnerConfig setting for every policy's learner, e.g. log_k_prior_sd=1.5 or "
        "platform_pooling=3 (repeatable; VALUE is JSON; use --out to keep the default results)",
    )
    ap.add_argument(
        "--thompson",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the default policy (InfoDirectedThompsonPolicy), e.g. "
        "switching_cost=0.05 (repeatable; VALUE is JSON; use --out to keep the default results)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="JSON",
        help="an earlier allocation.json (with per_world_pct_oracle): report each policy's paired "
        "difference to it, world by world",
    )
    ap.add_argument(
        "--latency-only",
        action="store_true",
        help="only re-measure the plan latencies and update them in an existing allocation.json",
    )
    args = ap.parse_args(argv)
    if args.latency_only:
        path = args.out / "allocation.json"
        out = json.loads(path.read_text())
        out["latency_platform_ms"], out["latency_posts500_ms"] = latency()
        path.write_text(json.dumps(out, indent=2))
        print(
            f"latency: platform plan {out['latency_platform_ms']:.1f} ms, "
            f"500-post plan {out['latency_posts500_ms']:.0f} ms"
        )
        return 0

    baseline: dict[str, Any] | None = None
    if args.baseline is not None:
        try:
            baseline = json.loads(args.baseline.read_text())["per_world_pct_oracle"]
            # checked now, not after the run: each variant maps "seeds" and policies to lists
            for block in baseline.values():
                if not isinstance(block.get("seeds"), list):
                    raise KeyError("seeds")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            ap.error(
                f"--baseline {args.baseline}: cannot read per_world_pct_oracle ({exc!r}); give an "
                "allocation.json written by this script since per-world values were stored"
            )
    if args.first_seed < 0:
        ap.error(f"--first-seed {args.first_seed}: seeds are non-negative integers, e.g. 0")
    learner_kw, learner_config = _settings(
        ap, "--learner", args.learner, LearnerConfig, "log_k_prior_sd=1.5"
    )
    thompson_kw, _ = _settings(
        ap, "--thompson", args.thompson, InfoDirectedThompsonPolicy, "switching_cost=0.05"
    )
    n_seeds = args.seeds or (3 if args.quick else 100)
    variants = args.variants or list(VARIANTS)
    extra = [] if (args.no_extra or args.quick) else list(EXTRA_POLICIES)
    jobs = [
        (
            v,
            args.first_seed + s,
            list(POLICIES) + (extra if s < args.extra_seeds else []),
            args.history_days,
            learner_config,
            thompson_kw,
        )
        for s in range(n_seeds)
        for v in variants
    ]
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    ctx = get_context("fork" if sys.platform != "win32" else "spawn")
    with ctx.Pool(args.workers) as pool:
        for i, res in enumerate(pool.imap_unordered(run_world, jobs, chunksize=1), 1):
            results.append(res)
            if i % max(1, len(jobs) // 20) == 0 or i == len(jobs):
                print(f"  {i}/{len(jobs)} worlds, {time.perf_counter() - t0:.0f} s", flush=True)
    table, paired, curves, per_world = aggregate(results, list(POLICIES))
    extra_out: dict[str, Any] = {}
    if extra:
        with_extra = [r for r in results if all(p in r["policies"] for p in EXTRA_POLICIES)]
        extra_table, extra_paired, *_ = aggregate(
            with_extra, [*EXTRA_POLICIES, "greedy", "uniform"]
        )
        extra_out = {
            v: {p: extra_table[v][p] for p in EXTRA_POLICIES}
            | {"paired_vs_greedy": extra_paired[v]}
            for v in extra_table
        }
    lat_platform, lat_posts = latency()
    run_refit = (not args.quick) if args.refit is None else args.refit
    refit = learner_vs_refit(config=learner_config) if run_refit else None
    calibration = learner_calibration(
        args.first_seed, n_seeds, learner_config, workers=args.workers
    )
    peer_path = args.out / "peer_pymc_marketing.json"
    peer: dict[str, Any] = {"amplify": None, "pymc_marketing": None}
    if peer_path.exists():
        peer_data = json.loads(peer_path.read_text())
        peer = {k: peer_data[k] for k in ("amplify", "pymc_marketing")}
        peer["details"] = {
            k: v for k, v in peer_data.items() if k not in ("amplify", "pymc_marketing")
        }
    out = {
        "variants": table,
        "peer": peer,
        "latency_platform_ms": lat_platform,
        "latency_posts500_ms": lat_posts,
        "paired_vs_greedy": paired,
        "paired_vs_baseline": paired_vs_baseline(per_world, baseline) if baseline else None,
        "per_world_pct_oracle": per_world,
        "learner_vs_refit": refit,
        "learner_calibration": calibration,
        "extra_policies": extra_out,
        "meta": {
            "seeds_per_variant": n_seeds,
            "first_seed": args.first_seed,
            "rounds": ROUNDS,
            "budget": BUDGET,
            "history_days": args.history_days,
            "quick": bool(args.quick),
            "wall_s": time.perf_counter() - t0,
            "workers": args.workers,
            "cpu_count": os.cpu_count(),
            "command": " ".join(
                ["python benchmarks/allocation.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "baseline": str(args.baseline) if args.baseline else None,
            "learner": learner_kw,
            "thompson": thompson_kw,
            "definitions": {
                "pct_oracle": "100 * sum_t E[conv | plan_t] / sum_t E[conv | oracle_t], per world",
                "gap_captured": "(pct_oracle_mean - uniform's) / (100 - uniform's)",
                "churn_pct": "100 * mean_t 0.5 * sum_arms |plan_t - plan_{t-1}| / budget",
                "churn_settled_pct": f"churn_pct over days t >= {LEARNING_DAYS} only",
                "gap_captured_ci95": f"bootstrap over worlds ({GAP_BOOTSTRAP} resamples)",
            },
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "allocation.json").write_text(json.dumps(out, indent=2))
    plot(curves, args.out / "regret.png")
    print_table(out)
    return 0


def print_table(out: dict[str, Any]) -> None:
    base = out["paired_vs_baseline"]
    print(
        f"\n{'variant':20s} {'policy':15s} {'%oracle':>8s} {'p10':>7s} {'last14':>7s} {'gap':>6s} "
        f"{'churn%':>7s} {'ch>=14':>6s} {'diff vs greedy [95% CI]':>26s}"
        + (f" {'diff vs baseline [95% CI]':>26s}" if base else "")
    )

    def diff(block: dict[str, Any] | None, variant: str, name: str) -> str:
        d = (block or {}).get(variant, {}).get(name)
        return f"{d['mean_diff']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]" if d else ""

    for variant, pols in out["variants"].items():
        for name, s in pols.items():
            print(
                f"{variant:20s} {name:15s} {s['pct_oracle_mean']:8.2f} {s['pct_oracle_p10']:7.2f} "
                f"{s['pct_oracle_last14_mean']:7.2f} {s['gap_captured']:6.2f} "
                f"{s['churn_pct']:7.2f} {s['churn_settled_pct']:6.2f} "
                f"{diff(out['paired_vs_greedy'], variant, name):>26s}"
                + (f" {diff(base, variant, name):>26s}" if base else "")
            )
    for variant, pols in out["variants"].items():
        if ci := pols.get("thompson", {}).get("gap_captured_ci95"):
            print(
                f"{variant}: thompson captures {pols['thompson']['gap_captured']:.3f} of the "
                f"uniform->oracle gap (95% bootstrap interval {ci[0]:.3f}-{ci[1]:.3f})"
            )
    if cal := out.get("learner_calibration"):
        print(
            f"learner calibration, {cal['seeds']} stationary worlds: "
            "coverage of 80% / 95% intervals"
        )
        for day, block in cal["days"].items():
            print(
                f"  day {day:>2s}: "
                + "  ".join(
                    f"{what} {b['cover80']:.2f} / {b['cover95']:.2f} (PIT {b['pit_mean']:.2f})"
                    for what, b in block.items()
                )
            )
    if refit := out.get("learner_vs_refit"):
        print(
            f"learner vs a full refit ({refit['refit_sampler']}, {refit['refit_s']:.0f} s): "
            f"relative error of the mean at most {100 * refit['max_abs_rel_err_mean']:.2f}%, "
            f"of the 90% interval's width at most {100 * refit['max_abs_rel_err_width90']:.1f}%; "
            f"refit r_hat {refit['refit_max_rhat']:.4f}, bulk ESS {refit['refit_min_ess_bulk']:.0f}"
        )
    print(
        f"latency: platform plan {out['latency_platform_ms']:.1f} ms, "
        f"500-post plan {out['latency_posts500_ms']:.0f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
