"""Pool several allocation runs over their worlds: the default policy against each baseline.

``python benchmarks/pool_allocation.py benchmarks/results/other_seeds/allocation.json
benchmarks/results/allocation.json benchmarks/results/seeds1100_1399/allocation.json`` reads the
``per_world_pct_oracle`` of each run (``benchmarks/allocation.py``) and prints, per variant, every
policy's mean % of the oracle and the default policy's paired difference to it over all the runs'
worlds (a 95% interval, the median world, the share of worlds it is ahead in). The runs must hold
different seeds: a world counted twice would narrow the intervals for nothing.

The variants share their seeds, and a seed's worlds are not independent (the same draw of curves
and noise under different changes). The pooled difference over all variants therefore averages each
seed's worlds first and takes the interval over seeds. ``--out FILE`` also writes the numbers as
JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT = "thompson"


def _ci(x: np.ndarray) -> dict[str, Any]:
    """Mean of ``x`` with its 95% interval (normal approximation)."""
    m = float(np.mean(x))
    half = 1.96 * float(np.std(x, ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else float("nan")
    return {"mean_diff": m, "ci95": [m - half, m + half]}


def pool(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled scores of several runs' ``per_world_pct_oracle`` (see the module docstring).

    Raises ``ValueError`` when two runs share a seed of a variant, or a variant or policy is
    missing from a run."""
    variants = list(runs[0])
    policies = [p for p in runs[0][variants[0]] if p != "seeds"]
    table: dict[str, Any] = {}
    by_seed: dict[str, dict[str, dict[int, float]]] = {p: {} for p in policies if p != DEFAULT}
    for v in variants:
        seeds: list[int] = []
        for i, run in enumerate(runs):
            if v not in run or any(p not in run[v] for p in policies):
                raise ValueError(f"run {i + 1} lacks variant {v!r} or one of {policies}")
            seeds += [int(s) for s in run[v]["seeds"]]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"the runs share seeds of variant {v!r}; pool disjoint runs")
        pct = {
            p: np.concatenate([np.asarray(r[v][p], dtype=float) for r in runs]) for p in policies
        }
        row: dict[str, Any] = {"n_worlds": len(seeds), "pct_oracle_mean": {}, "paired": {}}
        for p in policies:
            row["pct_oracle_mean"][p] = float(pct[p].mean())
            if p == DEFAULT:
                continue
            diff = pct[DEFAULT] - pct[p]
            row["paired"][p] = {
                **_ci(diff),
                "n_worlds": len(diff),
                "median": float(np.median(diff)),
                "share_ahead": float(np.mean(diff > 0)),
            }
            by_seed[p][v] = dict(zip(seeds, diff.tolist(), strict=True))
        table[v] = row
    pooled = {}
    for p, per_variant in by_seed.items():
        common = sorted(set.intersection(*(set(d) for d in per_variant.values())))
        mean = np.array([np.mean([d[s] for d in per_variant.values()]) for s in common])
        pooled[p] = {**_ci(mean), "n_seeds": len(common)}
    return {"variants": table, "pooled_over_variants": pooled}


def _fmt(d: dict[str, Any]) -> str:
    lo, hi = d["ci95"]
    return f"{d['mean_diff']:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="allocation.json files of disjoint seeds")
    ap.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    runs = []
    for path in args.runs:
        try:
            runs.append(json.loads(path.read_text())["per_world_pct_oracle"])
        except (OSError, ValueError, KeyError) as exc:
            print(
                f"{path}: not an allocation.json with per_world_pct_oracle ({exc})", file=sys.stderr
            )
            return 2
    try:
        out = pool(runs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for v, row in out["variants"].items():
        means = "  ".join(f"{p} {m:.2f}" for p, m in row["pct_oracle_mean"].items())
        print(f"{v} ({row['n_worlds']} worlds): {means}")
        for p, d in row["paired"].items():
            print(
                f"  {DEFAULT} - {p}: {_fmt(d)}, median world {d['median']:+.3f}, "
                f"ahead in {100 * d['share_ahead']:.0f}%"
            )
    for p, d in out["pooled_over_variants"].items():
        print(
            f"over all variants, each seed's worlds averaged first ({d['n_seeds']} seeds): "
            f"{DEFAULT} - {p}: {_fmt(d)}"
        )
    if args.out is not None:
        args.out.write_text(json.dumps({**out, "runs": [str(p) for p in args.runs]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
