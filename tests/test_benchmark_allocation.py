"""The allocation benchmark's own machinery: a world replays exactly, and the scores add up.

``benchmarks/allocation.py`` is a script, not part of the package; it is loaded from its path. Real
worlds, real learners and real policies: three stationary worlds of 90 days.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from amplify.learn import LearnerConfig

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "allocation.py"
POLICIES = ["thompson", "greedy", "uniform"]


def _load(path: Path, name: str) -> ModuleType:
    """A benchmark script as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load(SCRIPT, "amplify_bench_allocation")


@pytest.fixture(scope="module")
def results(bench: ModuleType) -> list[dict]:
    jobs = [("stationary", seed, POLICIES, 0, LearnerConfig(), {}) for seed in (11, 12, 13)]
    return [bench.run_world(job) for job in jobs]


REPLAY = """
import importlib.util, json, sys
from amplify.learn import LearnerConfig
spec = importlib.util.spec_from_file_location("bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
out = bench.run_world(("stationary", 12, sys.argv[2].split(","), 0, LearnerConfig(), {}))
print(json.dumps(out["policies"]))
"""


def test_a_world_replays_exactly_in_a_fresh_interpreter(results: list[dict]) -> None:
    """Same seed, same code: every day's expected conversions are identical to the last bit in
    another Python process (other memory layout, other start-up), so runs can be paired world by
    world."""
    proc = subprocess.run(
        [sys.executable, "-c", REPLAY, str(SCRIPT), ",".join(POLICIES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    again = {"policies": json.loads(proc.stdout.strip().splitlines()[-1])}
    for name in POLICIES:
        assert again["policies"][name]["daily"] == results[1]["policies"][name]["daily"]
        assert again["policies"][name]["churn"] == results[1]["policies"][name]["churn"]


def test_scores_and_intervals_are_consistent(bench: ModuleType, results: list[dict]) -> None:
    table, paired, _, per_world = bench.aggregate(results, POLICIES)
    stats = table["stationary"]
    assert stats["uniform"]["churn_pct"] == 0.0
    assert stats["uniform"]["churn_settled_pct"] == 0.0
    assert stats["uniform"]["gap_captured"] == pytest.approx(0.0, abs=1e-12)
    for name in ("thompson", "greedy"):
        s = stats[name]
        lo, hi = s["gap_captured_ci95"]
        assert lo <= s["gap_captured"] <= hi
        assert s["churn_settled_pct"] > 0.0
        assert s["churn_pct"] > 0.0
    # the learning weeks move more money than the settled weeks (cold start)
    assert stats["thompson"]["churn_settled_pct"] < stats["thompson"]["churn_pct"]
    diff = np.asarray(per_world["stationary"]["thompson"]) - per_world["stationary"]["greedy"]
    assert paired["stationary"]["thompson"]["mean_diff"] == pytest.approx(diff.mean())
    # a run paired with itself differs by exactly nothing
    self_paired = bench.paired_vs_baseline(per_world, per_world)["stationary"]
    assert all(d["mean_diff"] == 0.0 and d["ci95"] == [0.0, 0.0] for d in self_paired.values())


def test_learner_calibration_scores(bench: ModuleType) -> None:
    """The calibration block: PIT values of the truth under the learner's draws, per day."""
    cal = bench.learner_calibration(first_seed=11, n_seeds=2, days=(3, 20), workers=1)
    assert cal["seeds"] == 2
    assert list(cal["days"]) == ["3", "20"]
    for block in cal["days"].values():
        assert block["level"]["n"] == 6  # 2 worlds x 3 arms
        assert block["plan_total"]["n"] == 2
        for score in block.values():
            assert 0.0 <= score["cover80"] <= score["cover95"] <= 1.0
            assert 0.0 < score["pit_mean"] < 1.0


def test_pooled_runs_score_their_worlds_together(bench: ModuleType, results: list[dict]) -> None:
    """``benchmarks/pool_allocation.py``: two runs of disjoint worlds pool to the run of all of
    them, and a world counted twice is refused."""
    pool = _load(SCRIPT.parent / "pool_allocation.py", "amplify_bench_pool")
    whole = bench.aggregate(results, POLICIES)[3]
    first, second = (bench.aggregate(part, POLICIES)[3] for part in (results[:2], results[2:]))
    out = pool.pool([first, second])
    row = out["variants"]["stationary"]
    diff = np.asarray(whole["stationary"]["thompson"]) - whole["stationary"]["greedy"]
    assert row["n_worlds"] == 3
    assert row["paired"]["greedy"]["mean_diff"] == pytest.approx(diff.mean())
    assert row["paired"]["greedy"]["median"] == pytest.approx(np.median(diff))
    assert row["pct_oracle_mean"]["uniform"] == pytest.approx(
        np.mean(whole["stationary"]["uniform"])
    )
    # one variant: each seed's "average over variants" is its own world
    assert out["pooled_over_variants"]["greedy"]["mean_diff"] == pytest.approx(diff.mean())
    assert out["pooled_over_variants"]["greedy"]["n_seeds"] == 3
    with pytest.raises(ValueError, match="share seeds"):
        pool.pool([first, first])
