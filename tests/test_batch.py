"""Tests of batch recommendations: a folder of account exports → one plan per account + a summary.

One batch (two good accounts, one broken) runs once per module in two worker processes; the tests
read what it wrote. Fits use ADVI on small accounts: the model is not under test here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest_cli import bad_account, fast_fit, invoke_json, simulated_account

BUDGET = "2000"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("batch")
    exports = root / "exports"
    exports.mkdir()
    simulated_account(exports / "acme.csv", posts=60, seed=1)
    simulated_account(exports / "globex.csv", posts=60, seed=2)
    bad_account(exports / "broken.csv")
    (exports / "notes.md").write_text("not an export")
    out = root / "plans"
    code, doc = invoke_json(
        "recommend",
        "--input",
        exports,
        "--budget",
        BUDGET,
        "--out",
        out,
        "--workers",
        "2",
        *fast_fit(root),
    )
    return {"root": root, "exports": exports, "out": out, "code": code, "doc": doc}


@pytest.mark.slow
def test_one_failing_account_does_not_stop_the_others(batch: dict[str, Any]) -> None:
    assert batch["code"] == 0
    doc = batch["doc"]
    assert (doc["accounts"], doc["succeeded"], doc["failed"]) == (3, 2, 1)
    rows = {r["account"]: r for r in doc["results"]}
    assert set(rows) == {"acme", "broken", "globex"}  # notes.md is not an export
    assert rows["broken"]["status"] == "bad_input"
    assert rows["broken"]["exit_code"] == 2
    assert "row 2" in rows["broken"]["message"]
    assert "spend" in rows["broken"]["message"]
    for name in ("acme", "globex"):
        r = rows[name]
        assert r["status"] == "ok", r["message"]
        assert r["spend"] == pytest.approx(float(BUDGET))
        assert r["conversions"] > 0
        assert r["cpa"] > 0
        assert r["conversions_p10"] <= r["conversions"] <= r["conversions_p90"]


@pytest.mark.slow
def test_plans_and_summaries_are_written_whole(batch: dict[str, Any]) -> None:
    out: Path = batch["out"]
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "acme_plan.csv",
        "acme_plan.json",
        "globex_plan.csv",
        "globex_plan.json",
        "summary.csv",
        "summary.json",
    ]  # nothing for the broken account, no temporary files left behind
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["account"]) == ["acme", "broken", "globex"]
    assert list(summary["status"]) == ["ok", "bad_input", "ok"]
    assert json.loads((out / "summary.json").read_text())["results"] == batch["doc"]["results"]
    plan = pd.read_csv(out / "acme_plan.csv")
    assert plan["spend"].sum() == pytest.approx(float(BUDGET))
    assert set(plan["platform"]) <= {"facebook", "instagram", "tiktok"}
    doc = json.loads((out / "globex_plan.json").read_text())
    assert doc["account"] == "globex"
    assert doc["settings"]["budget"] == float(BUDGET)


@pytest.mark.slow
def test_the_per_account_function_is_pure(batch: dict[str, Any], tmp_path: Path) -> None:
    """Run in this process, recommend_account gives the same plan as the worker process did."""
    from amplify.pipeline import make_settings, recommend_account

    settings = make_settings(batch["root"] / "fast.yaml", budget=float(BUDGET))
    result = recommend_account(batch["exports"] / "acme.csv", settings, tmp_path)
    assert result.ok, result.message
    mine = pd.read_csv(result.plan_csv)
    theirs = pd.read_csv(batch["out"] / "acme_plan.csv")
    pd.testing.assert_frame_equal(mine, theirs)
    broken = recommend_account(batch["exports"] / "broken.csv", settings, tmp_path)
    assert (broken.status, broken.exit_code, broken.plan_csv) == ("bad_input", 2, None)


def test_exit_code_rules() -> None:
    from amplify.commands.recommend import batch_exit_code
    from amplify.pipeline import AccountResult

    def res(status: str) -> AccountResult:
        return AccountResult(account=status, export=f"{status}.csv", status=status)  # type: ignore[arg-type]

    ok, bad, unfit, bug = res("ok"), res("bad_input"), res("bad_fit"), res("error")
    assert batch_exit_code([ok, bad], strict=False) == 0  # one failure does not fail the batch
    assert batch_exit_code([ok, bad], strict=True) == 2  # ... unless --strict
    assert batch_exit_code([ok, unfit], strict=True) == 3
    assert batch_exit_code([bad, bad], strict=False) == 2  # all failed, for the same reason
    assert batch_exit_code([bad, unfit], strict=False) == 1  # all failed, for different reasons
    assert batch_exit_code([bug], strict=False) == 1
    assert batch_exit_code([ok, ok], strict=True) == 0


def test_all_failing_accounts_fail_the_batch(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    bad_account(folder / "a.csv")
    (folder / "b.csv").write_text("")
    code, doc = invoke_json(
        "recommend", "--input", folder, "--budget", "100", "--out", tmp_path / "o"
    )
    assert code == 2
    assert doc["failed"] == 2
    assert doc["succeeded"] == 0
    assert "empty" in {r["account"]: r for r in doc["results"]}["b"]["message"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["summary.csv", "summary.json"]


def test_batch_bad_invocations_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, doc = invoke_json(
        "recommend", "--input", empty, "--budget", "100", "--out", tmp_path / "o"
    )
    assert code == 2
    assert "no account exports" in doc["message"]
    code, doc = invoke_json("recommend", "--input", empty, "--budget", "100")
    assert code == 2
    assert "--out" in doc["message"]
    (empty / "a.csv").write_text("x")
    (empty / "a.tsv").write_text("x")
    code, doc = invoke_json(
        "recommend", "--input", empty, "--budget", "100", "--out", tmp_path / "o"
    )
    assert code == 2
    assert "would both be" in doc["message"]
    code, doc = invoke_json("recommend", "--input", empty, "--out", tmp_path / "o")
    assert code == 2
    assert "budget" in doc["message"]
    assert not (tmp_path / "o").exists()
