"""Recovery and calibration of the boost model over many seeded simulated worlds.

For each world (``amplify.simulate.default_truth(seed)``, ``World(truth, seed=seed).posts(n)``):
fit the
model on a random 80% of the posts, then check

* recovery: do the 90% posterior intervals of the platform-level parameters cover the truth?
* calibration: do the 90% predictive intervals of the held-out boosted posts' conversions cover them
  (exact for counts: randomised-PIT coverage; the inclusive-quantile share is reported too)?
* the held-out log predictive density of each boost's impressions, clicks and conversions, against
the
  pooled baseline without the organic signal (``Priors(use_organic=False)``) fitted on the same
  posts.

Writes ``benchmarks/results/recovery.json``. Usage::

    python benchmarks/recovery.py                 # 20 worlds x 1000 posts
    python benchmarks/recovery.py --worlds 4 --posts 400 --draws 300   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from amplify.model import BoostModel, Priors, SamplerConfig
from amplify.model.validation import (
    heldout_checks,
    interval_coverage,
    split_posts,
    truth_parameters,
)
from amplify.simulate import World, default_truth

RESULTS = Path(__file__).parent / "results"


def run_world(seed: int, n_posts: int, draws: int, tune: int) -> tuple[pd.DataFrame, dict]:
    truth = default_truth(seed)
    posts = World(truth, seed=seed).posts(n_posts)
    train, test = split_posts(posts, 0.8, seed=seed)
    cfg = SamplerConfig(draws=draws, tune=tune, chains=2, seed=seed)
    t0 = time.perf_counter()
    model = BoostModel(sampler=cfg).fit(train)
    t1 = time.perf_counter()
    base = BoostModel(priors=Priors(use_organic=False), sampler=cfg).fit(train)
    cov = interval_coverage(model, truth_parameters(truth, model))
    cov["world"] = seed
    held = heldout_checks(model, base, test, seed=seed)
    d = model.diagnostics_
    row = {
        "world": seed,
        "fit_s": round(t1 - t0, 2),
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        "baseline_max_rhat": base.diagnostics_.max_rhat,
        "baseline_divergences": base.diagnostics_.divergences,
        "param_coverage_90": float(cov["covered"].mean()),
        **held,
    }
    return cov, row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=RESULTS / "recovery.json")
    args = ap.parse_args()

    t0 = time.perf_counter()
    covs, rows = [], []
    for seed in range(args.worlds):
        cov, row = run_world(seed, args.posts, args.draws, args.tune)
        covs.append(cov)
        rows.append(row)
        print(
            f"world {seed:2d}: coverage {row['param_coverage_90']:.2f}  held-out coverage "
            f"{row['coverage_90']:.2f}/{row['coverage_90_inclusive']:.2f} (n={row['n']})  "
            f"elpd diff {row['elpd_diff']:+.1f} ± {row['elpd_diff_se']:.1f}  "
            f"r_hat {row['max_rhat']:.3f}  div {row['divergences']}  {row['fit_s']:.0f}s",
            flush=True,
        )
    cov = pd.concat(covs, ignore_index=True)
    per_world = pd.DataFrame(rows)
    n_held = per_world["n"].to_numpy()
    w = n_held / n_held.sum()
    diff_total = float(per_world["elpd_diff"].sum())
    diff_se = float(np.sqrt((per_world["elpd_diff_se"] ** 2).sum()))
    result = {
        "n_worlds": args.worlds,
        "coverage_90": float(cov["covered"].mean()),
        "heldout_coverage_90": float((per_world["coverage_90"] * w).sum()),
        "elpd_diff_vs_pooled": diff_total,
        "detail": {
            "settings": {
                "posts_per_world": args.posts,
                "train_share": 0.8,
                "draws": args.draws,
                "tune": args.tune,
                "chains": 2,
            },
            "coverage_90_by_parameter": cov.groupby("parameter")["covered"]
            .mean()
            .round(3)
            .to_dict(),
            "n_parameter_checks": len(cov),
            "heldout_boosts": int(n_held.sum()),
            "heldout_coverage_90_inclusive": float((per_world["coverage_90_inclusive"] * w).sum()),
            "heldout_coverage_note": (
                "heldout_coverage_90 is the randomised-PIT coverage of the 90% predictive "
                "interval of each held-out boost's conversions (exact for counts); the inclusive "
                "[q5, q95] share over-covers small counts"
            ),
            "elpd_diff_vs_pooled_se": diff_se,
            "elpd_diff_per_heldout_boost": diff_total / float(n_held.sum()),
            "elpd_note": (
                "sum over worlds of the held-out log predictive density (impressions, clicks and "
                "conversions of each held-out boost given its spend and organic data) of the model "
                "minus the pooled baseline without the organic signal; positive = model better"
            ),
            "worlds_baseline_better": int((per_world["elpd_diff"] < 0).sum()),
            "max_rhat": float(per_world["max_rhat"].max()),
            "total_divergences": int(per_world["divergences"].sum()),
            "per_world": per_world.round(4).to_dict(orient="records"),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_at_end": os.getloadavg(),
                "python": platform.python_version(),
                "note": "2 cores shared with other jobs while this ran",
            },
            "wall_s": round(time.perf_counter() - t0, 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"\n{args.worlds} worlds: parameter coverage {result['coverage_90']:.3f} "
        f"({len(cov)} checks), held-out coverage {result['heldout_coverage_90']:.3f} "
        f"(inclusive {result['detail']['heldout_coverage_90_inclusive']:.3f}), "
        f"elpd diff vs pooled {diff_total:+.1f} ± {diff_se:.1f}"
    )
    print(cov.groupby("parameter")["covered"].mean().round(3).to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
