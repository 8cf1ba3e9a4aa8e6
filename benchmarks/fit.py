"""How fast does the boost model fit? Compile time, sampling time, ESS per second, memory.

Each row (posts x sampler x seed) runs in a fresh Python process, so compile time is real (no
in-process cache) and the peak resident memory is that row's alone. Writes
``benchmarks/results/fit.json``: a list of rows with ``n_posts, sampler, compile_s, sample_s,
wall_s, min_ess_bulk, max_rhat, divergences, peak_rss_mb`` (plus ``seed``, ``ess_per_s``,
``min_ess_bulk_platform``, ``max_rhat_platform``, ``converged`` and the machine's load averages at
the start and end of the run: ~2 on two cores means the run had them to itself).

``wall_s`` is the whole ``BoostModel.fit`` (data checks, compile, sampling, diagnostics);
``compile_s`` is building and compiling the model (for PyMC's NUTS: building it; PyMC compiles
inside ``pm.sample`` and that is counted in ``sample_s``). Convergence figures are over every free
parameter (``*_platform``: the platform-level blocks only). Usage::

    python benchmarks/fit.py                 # 1k, 5k, 20k posts; nutpie and PyMC NUTS
    python benchmarks/fit.py --quick         # 1k posts only
    python benchmarks/fit.py --seeds 0 1 2   # nutpie on three simulated accounts per size
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def one_row(n_posts: int, sampler: str, draws: int, tune: int, seed: int) -> dict:
    """Fit once (in this process) and measure."""
    t_start = time.perf_counter()
    from amplify.model import BoostModel, SamplerConfig
    from amplify.model.build import PLATFORM_LEVEL_VARS
    from amplify.model.diagnostics import convergence
    from amplify.simulate import World, default_truth

    posts = World(default_truth(seed), seed=seed).posts(n_posts)
    marks: dict[str, float] = {}

    def progress(stage: str, frac: float) -> None:
        marks.setdefault(stage.split(" (")[0], time.perf_counter())

    cfg = SamplerConfig(draws=draws, tune=tune, chains=2, seed=seed, nuts_sampler=sampler)
    t0 = time.perf_counter()
    model = BoostModel(sampler=cfg).fit(posts, progress=progress)
    t1 = time.perf_counter()
    t_comp = marks.get("compiling the model", t0)
    t_samp = marks.get("sampling", t_comp)
    t_check = marks.get("checking the fit", t1)
    d = model.diagnostics_
    rhat_p, ess_p, _, _ = convergence(model.idata_, PLATFORM_LEVEL_VARS)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "n_posts": n_posts,
        "sampler": sampler,
        "seed": seed,
        "compile_s": round(t_samp - t_comp, 2),
        "sample_s": round(t_check - t_samp, 2),
        "wall_s": round(t1 - t0, 2),
        "min_ess_bulk": round(d.min_ess_bulk, 1),
        "max_rhat": round(d.max_rhat, 4),
        "divergences": d.divergences,
        "peak_rss_mb": round((self_kb + child_kb) / 1024, 1),
        "ess_per_s": round(d.min_ess_bulk / (t1 - t0), 2),
        "min_ess_bulk_platform": round(ess_p, 1),
        "max_rhat_platform": round(rhat_p, 4),
        "converged": bool(d.max_rhat <= 1.01 and ess_p >= 400 and d.divergences == 0),
        "draws": draws,
        "tune": tune,
        "process_s": round(time.perf_counter() - t_start, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1k posts only")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--samplers", nargs="*", default=["nutpie", "pymc"])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[0],
        help="simulated accounts, one fit each (nutpie: every seed; PyMC's NUTS: the first)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "fit.json")
    ap.add_argument("--row", nargs=2, metavar=("N_POSTS", "SAMPLER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.seeds:
        ap.error("--seeds needs at least one seed")

    if args.row:
        row = one_row(int(args.row[0]), args.row[1], args.draws, args.tune, args.seeds[0])
        print("ROW " + json.dumps(row), flush=True)
        return

    sizes = args.sizes or ([1000] if args.quick else [1000, 5000, 20000])
    rows = []
    load_start = [round(x, 2) for x in os.getloadavg()]
    jobs = [
        (n, sampler, seed)
        for n in sizes
        for sampler in args.samplers
        for seed in (args.seeds if sampler == "nutpie" else args.seeds[:1])
    ]
    for n, sampler, seed in jobs:
        cmd = [sys.executable, __file__, "--row", str(n), sampler]
        cmd += ["--draws", str(args.draws), "--tune", str(args.tune), "--seeds", str(seed)]
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("ROW ")), None)
        if line is None:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"row {n} {sampler} seed {seed} failed")
        row = json.loads(line[4:])
        row["subprocess_s"] = round(time.perf_counter() - t, 2)
        rows.append(row)
        print(
            f"{n:>6} {sampler:7s} seed {seed:<3d} compile {row['compile_s']:6.1f}s"
            f"  sample {row['sample_s']:7.1f}s  wall {row['wall_s']:7.1f}s"
            f"  min ESS {row['min_ess_bulk']:7.0f}"
            f"  ESS/s {row['ess_per_s']:6.1f}  r_hat {row['max_rhat']:.3f}"
            f"  div {row['divergences']}  RSS {row['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    load_end = [round(x, 2) for x in os.getloadavg()]
    for r in rows:
        # 1/5/15-minute load averages of the machine: ~2 on two cores means this run had them alone
        r["load_average_at_start"] = load_start
        r["load_average_at_end"] = load_end
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))

    print(
        f"\n{'posts':>6} {'sampler':7} {'compile_s':>9} {'sample_s':>9} {'wall_s':>8} "
        f"{'minESS':>7} {'ESS/s':>7} {'r_hat':>6} {'div':>4} {'RSS_MB':>7}"
    )
    for r in rows:
        print(
            f"{r['n_posts']:>6} {r['sampler']:7} {r['seed']:>4} {r['compile_s']:>9.1f} "
            f"{r['sample_s']:>9.1f} "
            f"{r['wall_s']:>8.1f} {r['min_ess_bulk']:>7.0f} {r['ess_per_s']:>7.1f} "
            f"{r['max_rhat']:>6.3f} {r['divergences']:>4} {r['peak_rss_mb']:>7.0f}"
        )
    by = {(r["n_posts"], r["sampler"]): r for r in rows if r["seed"] == args.seeds[0]}
    for n in sizes:
        a, b = by.get((n, "pymc")), by.get((n, "nutpie"))
        if a and b:
            print(
                f"{n} posts: PyMC NUTS / nutpie wall time = {a['wall_s'] / b['wall_s']:.1f}x, "
                f"ESS/s ratio nutpie / PyMC = {b['ess_per_s'] / max(a['ess_per_s'], 1e-9):.1f}x"
            )
    for n in sizes:
        nut = [r for r in rows if r["n_posts"] == n and r["sampler"] == "nutpie"]
        if len(nut) > 1:
            ok = sum(r["converged"] for r in nut)
            rhat = max(r["max_rhat"] for r in nut)
            walls = [r["wall_s"] for r in nut]
            print(
                f"{n} posts, nutpie over {len(nut)} seeds: converged {ok}/{len(nut)}, "
                f"max r_hat {rhat:.4f}, wall {min(walls):.0f}-{max(walls):.0f} s"
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
