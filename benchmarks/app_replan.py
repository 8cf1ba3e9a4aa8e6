"""How long a what-if re-plan takes in the app, server-side, with a fitted sample-account model.

Two numbers (target: ≤ 300 ms):

- ``plan_ms``: :func:`amplify.ui.planning.plan_for` on the cached response curves — what a slider
  change computes (curves → constraints → policy → plan with all intervals);
- ``rerun_ms``: a whole Streamlit rerun of the Plan page after a budget change (``AppTest``: script,
  widgets, plan, table and chart specs), i.e. everything the server does before sending the page.

The model is fitted once (full NUTS fit by default, ``--fast`` for the approximate one) and saved
in the app's model cache, so a second run of this script — like a restarted app — does not refit.

Run: ``.venv/bin/python benchmarks/app_replan.py [--fast] [--repeats 30]``;
writes ``benchmarks/results/app_replan.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "app_replan.json"


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "median": float(np.median(a)),
        "p95": float(np.quantile(a, 0.95)),
        "max": float(a.max()),
        "n": len(ms),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="use the fast approximate fit")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    from amplify.data import load_sample
    from amplify.ui import planning
    from amplify.ui import state as S
    from amplify.ui.cache import ModelCache, default_cache_dir

    posts = load_sample()
    cache = ModelCache(default_cache_dir())
    settings = S.fit_settings(args.fast, {})
    t0 = time.perf_counter()
    entry = cache.get_or_fit(posts, settings)
    fit_s = time.perf_counter() - t0
    n_boosts = planning.default_n_boosts(posts)
    t0 = time.perf_counter()
    curves = entry.model.platform_curves(n_boosts, max_draws=1000, seed=0)
    curves_ms = 1000 * (time.perf_counter() - t0)
    budget0 = planning.default_budget(posts)
    platforms = list(dict.fromkeys(curves.platform))
    previous = planning.current_split(posts, platforms, budget0)

    rng = np.random.default_rng(0)
    plan_ms = []
    for i in range(args.repeats):
        budget = float(budget0 * rng.uniform(0.5, 2.0))
        lock = platforms[i % len(platforms)]
        inputs = planning.PlanInputs(
            budget=budget,
            limits={lock: planning.Limits(lock=budget / 5)} if i % 2 else {},
            max_change=0.2 if i % 3 == 0 else None,
        )
        t0 = time.perf_counter()
        plan = planning.plan_for(curves, inputs, previous)
        plan_ms.append(1000 * (time.perf_counter() - t0))
        assert abs(plan.total["spend"] - budget) < 1e-6 * budget, "plan must spend the budget"

    # a whole rerun of the Plan page, as the server runs it after a slider move
    from streamlit.testing.v1 import AppTest

    # the page finds the saved fit of the sample account (the full one first) in the model cache
    os.environ.pop(S.FAST_FIT_ENV, None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    at.switch_page("src/amplify/ui/pages/plan.py").run()
    assert not at.exception, at.exception
    assert at.table, "the Plan page shows no plan: the fitted model was not found in the cache"
    rerun_ms = []
    for i in range(max(5, args.repeats // 3)):
        at.number_input(key=S.BUDGET).set_value(float(budget0 * (1.0 + 0.1 * (i + 1))))
        t0 = time.perf_counter()
        at.run()
        rerun_ms.append(1000 * (time.perf_counter() - t0))
        assert not at.exception, at.exception
    doc = {
        "what": "server-side what-if re-plan latency of the Streamlit app (sample account)",
        "command": "python benchmarks/app_replan.py" + (" --fast" if args.fast else ""),
        "fit": {
            "settings": settings,
            "seconds_or_load": round(fit_s, 2),
            "from_disk": entry.from_disk,
        },
        "n_draws": curves.n_draws,
        "n_arms": curves.n_arms,
        "curves_ms_first_time": round(curves_ms, 1),
        "plan_ms": _stats(plan_ms),
        "rerun_ms": _stats(rerun_ms),
        "target_ms": 300,
        "meets_target": bool(np.median(plan_ms) <= 300 and np.median(rerun_ms) <= 300),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    print(
        f"re-plan median {statistics.median(plan_ms):.1f} ms; "
        f"page rerun median {statistics.median(rerun_ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
