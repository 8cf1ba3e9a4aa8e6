"""The online loop over its ledger: a real SIGKILL mid-run, resume determinism, concurrent
processes,
real-results recording, and a short Thompson run beating uniform."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplify.allocate import Constraints, InfoDirectedThompsonPolicy
from amplify.campaign import (
    Campaign,
    decide,
    draws_rng,
    feed_rows,
    history_rows,
    make_policy,
    record_outcomes,
    run_simulated,
    simulate_rounds,
)
from amplify.errors import DataError
from amplify.learn import LearnerConfig, OnlineCurveLearner
from amplify.ledger import Ledger, LedgerError
from amplify.simulate import CampaignWorld

ROUNDS = 40
SEED = 3
SCRIPT = (
    "import sys; from amplify.campaign import run_simulated; "
    "run_simulated(sys.argv[1], rounds=int(sys.argv[2]), seed=int(sys.argv[3]))"
)


def _start(path: Path, rounds: int = ROUNDS) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path), str(rounds), str(SEED)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _last_round(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT MAX(round) FROM rounds").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return -1
    return -1 if row is None or row[0] is None else int(row[0])


def _ledger_content(path: Path) -> tuple[list[tuple[int, dict[str, float]]], pd.DataFrame]:
    with Ledger(path) as led:
        run = led.run_id("default")
        plans = [(r.round, r.plan["spend"]) for r in led.rounds(run)]
        rows = led.outcomes(run, latest=False).drop(columns=["source"])
    return plans, rows


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run with the same seed."""
    path = tmp_path_factory.mktemp("ref") / "ref.db"
    run_simulated(path, rounds=ROUNDS, seed=SEED)
    return path


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path: Path, reference: Path) -> None:
    path = tmp_path / "run.db"
    rng = np.random.default_rng(20260101)
    kills = []
    for target in rng.integers(3, ROUNDS - 5, size=1):
        proc = _start(path)
        deadline = time.monotonic() + 60
        while _last_round(path) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(float(rng.uniform(0.0, 0.03)))  # land anywhere inside a round
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        kills.append(_last_round(path))
        # integrity after the kill: no half-written round, contiguous indices, outcomes with every
        # plan
        with Ledger(path) as led:
            report = led.check()
            assert report.ok, report.problems
            assert report.n_rounds == kills[-1] + 1
    assert 0 < kills[-1] < ROUNDS - 1, kills
    # restart: it continues from the last committed round and ends where the uninterrupted run ends
    result = run_simulated(path, rounds=ROUNDS, seed=SEED)
    assert len(result.table) == ROUNDS * 3
    plans, rows = _ledger_content(path)
    ref_plans, ref_rows = _ledger_content(reference)
    assert plans == ref_plans
    pd.testing.assert_frame_equal(rows, ref_rows)


@pytest.mark.slow
def test_two_processes_on_one_ledger(tmp_path: Path, reference: Path) -> None:
    """Two processes running the same campaign at once: each round lands once, same result."""
    path = tmp_path / "run.db"
    procs = [_start(path), _start(path)]
    for p in procs:
        p.wait(timeout=120)
        assert p.returncode == 0, p.stderr.read() if p.stderr else ""
    with Ledger(path) as led:
        assert led.check().ok
    assert _ledger_content(path)[0] == _ledger_content(reference)[0]


def test_resume_in_process_and_settings_guard(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    world = CampaignWorld(5, horizon=20)
    kw = {"arms": world.arms, "constraints": 3000.0, "world": world, "seed": 5}
    Campaign(path, **kw).run(8)
    second = Campaign(path, **kw).run(20)  # a new object picks up at round 8
    once = Campaign(tmp_path / "once.db", **kw).run(20)
    pd.testing.assert_frame_equal(second.table, once.table)
    assert second.summary["pct_oracle"] == pytest.approx(once.summary["pct_oracle"])
    # the default policy is stateless: what it needs of the past is yesterday's plan
    with Ledger(path) as led:
        rec = led.round(led.run_id("default"), 19)
        assert rec is not None
        assert rec.plan["policy_state"] is None
        assert rec.policy == "thompson"
        assert rec.constraints["previous"] is not None
    with pytest.raises(LedgerError, match="different: seed"):
        Campaign(path, **{**kw, "seed": 6}).run(21)


def test_thompson_beats_uniform_in_20_days() -> None:
    """Over six worlds (one world alone swings by several points of % of oracle with the noise of
    20 days), Thompson sampling clearly beats the even split and comes within 10% of the oracle."""
    c = Constraints(budget=3000.0)
    totals = {"thompson": 0.0, "uniform": 0.0, "oracle": 0.0}
    for seed in range(10, 16):
        world = CampaignWorld(seed, horizon=20)
        for name in ("thompson", "uniform"):
            learner = OnlineCurveLearner(world.arms, reference_spend=1000.0)
            out = simulate_rounds(world, make_policy(name), learner, c, 20, seed=seed)
            totals[name] += out["expected"].sum()
            assert np.allclose(out["spend_set"].sum(axis=1), 3000.0)
        totals["oracle"] += sum(world.expected(world.oracle(3000.0, r), r).sum() for r in range(20))
    assert totals["thompson"] > 1.05 * totals["uniform"]
    assert totals["thompson"] > 0.9 * totals["oracle"]
    with pytest.raises(ValueError, match="max_churn"):
        InfoDirectedThompsonPolicy(max_churn=0.0)


def test_common_random_draws_keep_a_plan_on_an_unchanged_posterior() -> None:
    """The loops draw the posterior with the same uniforms every round: two rounds that see the
    same posterior get the same greedy plan, where fresh draws each round would move it by Monte
    Carlo noise alone."""
    world = CampaignWorld(5, horizon=10)
    learner = OnlineCurveLearner(world.arms, reference_spend=1000.0)
    simulate_rounds(world, make_policy("greedy"), learner, Constraints(budget=3000.0), 6, seed=5)
    previous = np.full(3, 1000.0)
    common, fresh = [], []
    for r in (6, 7):
        for out, draws in ((common, draws_rng(5)), (fresh, None)):
            spend, _ = decide(
                learner,
                make_policy("greedy"),
                Constraints(budget=3000.0),
                previous,
                None,
                np.random.default_rng(r),
                n_draws=64,
                draws=draws,
            )
            out.append(spend)
    assert np.array_equal(common[0], common[1])
    assert 0.5 * np.abs(fresh[0] - fresh[1]).sum() > 5.0  # dollars moved by the draws alone


def test_real_campaign_plan_and_record(tmp_path: Path) -> None:
    """Without a world: plan, import results (late reports included), plan again from them."""
    path = tmp_path / "real.db"
    arms = ("facebook", "instagram", "tiktok")
    camp = Campaign(path, arms=arms, constraints=Constraints(budget=900.0), seed=1)
    with pytest.raises(LedgerError, match="needs a simulated world"):
        camp.run(3)
    rates = {"facebook": 0.01, "instagram": 0.02, "tiktok": 0.08}
    for r in range(12):
        plan = camp.plan_next()
        assert plan["round"] == r
        assert sum(plan["spend"].values()) == pytest.approx(900.0)
        df = pd.DataFrame(
            {
                "platform": list(arms),
                "spend": [plan["spend"][a] for a in arms],
                "conversions": [round(rates[a] * plan["spend"][a]) for a in arms],
            }
        )
        assert record_outcomes(path, r, df) == 3
    # tiktok converts 8x better than facebook: the plan has moved budget there
    assert plan["spend"]["tiktok"] > plan["spend"]["facebook"]
    with Ledger(path) as led:
        run = led.run_id("default")
        assert led.check(run).ok
        assert led.outcomes(run)["age"].tolist() == [0] * 36
    # a corrected re-import of an old day at a later age supersedes the first report
    fixed = df.assign(conversions=df["conversions"] + 5, age=3)
    record_outcomes(path, 8, fixed)
    with Ledger(path) as led:
        latest = led.outcomes(led.run_id("default"))
        assert latest.loc[latest["round"] == 8, "age"].tolist() == [3, 3, 3]
    bad = pd.DataFrame(
        {"arm": ["facebook", "snapchat"], "spend": [1.0, -2.0], "conversions": [1, 1]}
    )
    with pytest.raises(DataError) as err:
        record_outcomes(path, 11, bad)
    text = str(err.value)
    assert "row 1" in text
    assert "snapchat" in text
    assert "column 'arm'" in text
    with pytest.raises(LedgerError, match="has not been planned"):
        record_outcomes(path, 40, df)
    os.remove(path)


def test_history_impressions_reach_the_learner_and_blanks_are_not_reported() -> None:
    """A pre-period's impressions inform the learner's curve shapes; a blank cell is a day without
    impressions (not zero, not an error)."""
    world = CampaignWorld(3)
    hist = world.history(20)
    hist.loc[hist.index[:3], "impressions"] = np.nan
    rows = history_rows(hist, world.arms)
    assert [r.impressions for r in rows[:3]] == [None, None, None]
    assert all(r.impressions is not None and r.impressions > 0 for r in rows[3:])
    with_impr = OnlineCurveLearner(world.arms, reference_spend=1000.0)
    without = OnlineCurveLearner(
        world.arms, reference_spend=1000.0, config=LearnerConfig(use_impressions=False)
    )
    for learner in (with_impr, without):
        feed_rows(learner, rows)
        learner.refresh()
    log_impr = with_impr.design()["log_impressions"]
    assert np.isnan(log_impr).sum() == 3
    assert not np.array_equal(with_impr._post.logw, without._post.logw)
    # a blank conversions cell or a negative count is named by row and column, every one at once
    bad = hist.copy()
    bad.loc[bad.index[4], "conversions"] = np.nan
    bad.loc[bad.index[7], "impressions"] = -5
    with pytest.raises(DataError) as err:
        history_rows(bad, world.arms)
    found = {(p.row, p.column) for p in err.value.problems}
    assert found == {(4, "spend/conversions"), (7, "impressions")}, err.value.problems
