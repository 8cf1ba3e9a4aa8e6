"""The Plan and Scenarios pages' helpers (ui.planning, ui.scenarios) on injected curves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from amplify.allocate import Constraints
from amplify.testing import synthetic_curves
from amplify.ui import planning
from amplify.ui import scenarios as sc
from amplify.ui.tables import to_json_bytes

PLATFORMS = ["facebook", "instagram", "tiktok"]


@pytest.fixture(scope="module")
def curves():
    return synthetic_curves(3, 1000, seed=3)


def posts() -> pd.DataFrame:
    t = pd.date_range("2026-01-01", periods=8 * 7, freq="D")
    n = len(t)
    return pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "platform": [PLATFORMS[i % 3] for i in range(n)],
            "posted_at": t,
            "spend": [100.0 if i % 2 == 0 else 0.0 for i in range(n)],
        }
    )


def test_defaults_follow_the_history() -> None:
    p = posts()
    assert planning.weeks_covered(p) == pytest.approx(55 / 7)
    # 28 boosts of $100 over 55 days ≈ $356 a week → rounded to 400
    assert planning.default_budget(p) == 400.0
    assert planning.default_n_boosts(p) == 1
    split = planning.current_split(p, PLATFORMS, 900.0)
    assert sum(split.values()) == pytest.approx(900.0)


def test_plan_spends_the_budget_with_intervals(curves) -> None:
    plan = planning.plan_for(curves, planning.PlanInputs(budget=3000.0))
    assert plan.total["spend"] == pytest.approx(3000.0)
    table = planning.plan_table(plan)
    assert list(table.index) == [*PLATFORMS, "Total"]
    assert table.loc["Total", "Spend"] == "$3,000"
    assert all(" – " in v for v in table["80% range"])
    assert all(" – " in v for v in table["95% range"])


def test_limits_locks_and_max_change_are_respected(curves) -> None:
    inputs = planning.PlanInputs(
        budget=3000.0,
        limits={
            "tiktok": planning.Limits(lock=250.0),
            "facebook": planning.Limits(min=900.0, max=1000.0),
        },
    )
    plan = planning.plan_for(curves, inputs)
    spend = plan.spend_by_platform
    assert spend["tiktok"] == pytest.approx(250.0)
    table = planning.plan_table(plan)
    assert table.loc["tiktok", "Marginal CPA"] == "at its limit"
    assert table.loc["tiktok", "P(best for next $)"] == "–"
    assert 900.0 - 1e-6 <= spend["facebook"] <= 1000.0 + 1e-6
    previous = {"facebook": 1000.0, "instagram": 1000.0, "tiktok": 1000.0}
    moved = planning.plan_for(
        curves, planning.PlanInputs(budget=3000.0, max_change=0.05), previous
    ).spend_by_platform
    assert all(abs(moved[p] - 1000.0) <= 150.0 + 1e-6 for p in PLATFORMS)


def test_impossible_limits_raise_a_readable_error(curves) -> None:
    with pytest.raises(ValueError, match="budget"):
        planning.plan_for(
            curves,
            planning.PlanInputs(budget=500.0, limits={"facebook": planning.Limits(min=800.0)}),
        )


def test_exports_carry_the_plan_and_the_question(curves) -> None:
    inputs = planning.PlanInputs(budget=2000.0, target_cpa=None)
    plan = planning.plan_for(curves, inputs)
    frame = planning.plan_export(plan)
    assert list(frame["platform"]) == [*PLATFORMS, "total"]
    assert frame["spend"].iloc[:3].sum() == pytest.approx(2000.0)
    doc = json.loads(to_json_bytes(planning.plan_document(plan, inputs, "=evil.csv")))
    assert doc["dataset"] == "'=evil.csv"
    assert doc["inputs"]["budget"] == 2000.0
    assert {r["platform"] for r in doc["plan"]["per_platform"]} == set(PLATFORMS)


def test_scenarios_compare_against_the_baseline(curves) -> None:
    specs = [
        *sc.default_specs(),
        sc.Spec("lock", lock_platform="tiktok", lock_amount=100.0),
        sc.Spec("none"),
    ]
    table = sc.run_compare(curves, specs, Constraints(budget=3000.0))
    summary = sc.summary_table(table, specs)
    assert list(summary.index) == ["baseline", "Budget +20%", "Instagram CPM +20%", "lock", "none"]
    assert summary.loc["Budget +20%", "Spend"] == "$3,600"
    assert summary.loc["Budget +20%", "What changes"] == "budget +20%"
    assert summary.loc["Instagram CPM +20%", "Change vs baseline"].startswith("-")
    spend = sc.spend_table(table)
    assert spend.loc["lock", "tiktok"] == pytest.approx(100.0)
    assert summary.loc["none", "Note"] == "asks for no change"
    tot = sc.totals(table)
    assert (tot["conv_p2_5"] <= tot["conv_p10"]).all()
    assert (tot["conv_p90"] <= tot["conv_p97_5"]).all()


def test_spec_to_scenario_maps_percentages() -> None:
    s = sc.to_scenario(
        sc.Spec("x", budget_pct=-10, shock_platform=sc.ALL, cpm_pct=20, cvr_pct=-5, top_n=3),
        base_budget=1000.0,
    )
    assert s.budget == pytest.approx(900.0)
    assert s.shocks["all"].cpm == pytest.approx(0.2)
    assert s.shocks["all"].cvr == pytest.approx(-0.05)
    assert s.top_n_posts == 3
    assert "all platforms CPM +20%" in sc.Spec("x", shock_platform=sc.ALL, cpm_pct=20).describe()


def test_simulation_scores_policies_against_the_oracle() -> None:
    from amplify.ui.simulation import run_policies

    res = run_policies(days=12, budget=2000.0, seed=3)
    assert set(res.daily["policy"]) == set(res.summary["policy"])
    assert len(res.daily) == 3 * 12
    assert np.all(res.daily["regret"] >= -1e-6)  # nobody beats the oracle in expectation
    assert np.allclose(
        res.daily.groupby("policy")["cum_regret"].last().sort_index(),
        res.summary.set_index("policy")["regret"].sort_index(),
    )


def test_sessions_recording_plans_at_once_keep_the_ledger_consistent(
    curves,
    tmp_path,
) -> None:
    import threading

    from amplify.ledger import Ledger
    from amplify.ui.record import campaign_name, plan_in_use, record_plan

    path = tmp_path / "ledger.db"
    assert plan_in_use(path, "d" * 20) is None
    plans = [planning.plan_for(curves, planning.PlanInputs(budget=b)) for b in (1000.0, 2000.0)]
    got: list[int] = []
    errors: list[BaseException] = []

    def session(i: int) -> None:
        try:
            for _ in range(3):
                got.append(record_plan(path, "d" * 20, "sample", plans[i % 2], {"budget": 1.0}))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == list(range(12))  # every plan recorded once, rounds contiguous
    with Ledger(path) as led:
        run = led.run_id(campaign_name("d" * 20))
        assert led.check(run, require_outcomes=False).ok
    in_use = plan_in_use(path, "d" * 20)
    assert in_use is not None
    assert sum(in_use.values()) in (pytest.approx(1000.0), pytest.approx(2000.0))
