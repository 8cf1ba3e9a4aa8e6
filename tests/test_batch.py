"""Tests of batch recommendations: a folder of account exports → one plan per account + a summary.

One batch (a good account and a broken one) runs once per module; the tests read what it wrote. Fits
use ADVI on small accounts: the model is not under test here. The process pool itself is exercised
on accounts that fail before fitting (cheap), so the suite stays within its time budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest_cli import bad_account, fast_fit, invoke, invoke_json, simulated_account

BUDGET = "2000"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("batch")
    exports = root / "exports"
    exports.mkdir()
    simulated_account(exports / "acme.csv", posts=60, seed=1)
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
        "1",
        *fast_fit(root),
    )
    return {"root": root, "exports": exports, "out": out, "code": code, "doc": doc}


@pytest.mark.slow
def test_one_failing_account_does_not_stop_the_others(batch: dict[str, Any]) -> None:
    assert batch["code"] == 0
    doc = batch["doc"]
    assert (doc["accounts"], doc["succeeded"], doc["failed"]) == (2, 1, 1)
    rows = {r["account"]: r for r in doc["results"]}
    assert set(rows) == {"acme", "broken"}  # notes.md is not an export
    assert (rows["broken"]["status"], rows["broken"]["exit_code"]) == ("bad_input", 2)
    assert "row 2" in rows["broken"]["message"]
    assert "spend" in rows["broken"]["message"]
    r = rows["acme"]
    assert r["status"] == "ok", r["message"]
    assert r["spend"] == pytest.approx(float(BUDGET))
    assert r["conversions"] > 0
    assert r["cpa"] > 0
    assert r["conversions_p10"] <= r["conversions"] <= r["conversions_p90"]


@pytest.mark.slow
def test_plans_and_summaries_are_written_whole(batch: dict[str, Any]) -> None:
    out: Path = batch["out"]
    names = sorted(p.name for p in out.iterdir())
    # nothing for the broken account, no temporary files left behind
    assert names == ["acme_plan.csv", "acme_plan.json", "summary.csv", "summary.json"]
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["account"]) == ["acme", "broken"]
    assert list(summary["status"]) == ["ok", "bad_input"]
    assert json.loads((out / "summary.json").read_text())["results"] == batch["doc"]["results"]
    plan = pd.read_csv(out / "acme_plan.csv")
    assert plan["spend"].sum() == pytest.approx(float(BUDGET))
    assert set(plan["platform"]) <= {"facebook", "instagram", "tiktok"}
    doc = json.loads((out / "acme_plan.json").read_text())
    assert doc["account"] == "acme"
    assert doc["settings"]["budget"] == float(BUDGET)


@pytest.mark.slow
def test_one_account_alone_gets_the_plan_the_batch_gave_it(
    batch: dict[str, Any], tmp_path: Path
) -> None:
    """`recommend --input FILE` (fit here, one account) and the batch agree: one pure function."""
    single = tmp_path / "single.csv"
    r = invoke(
        "recommend",
        "--input",
        batch["exports"] / "acme.csv",
        "--budget",
        BUDGET,
        "--out",
        single,
        *fast_fit(batch["root"]),
    )
    assert r.exit_code == 0, r.output
    assert "approximate fit (advi)" in r.stderr  # warned about, not a failure
    pd.testing.assert_frame_equal(pd.read_csv(single), pd.read_csv(batch["out"] / "acme_plan.csv"))


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
        "recommend", "--input", folder, "--budget", "100", "--out", tmp_path / "o", "--workers", "2"
    )
    assert code == 2, doc  # both failed (in two worker processes)
    assert doc["failed"] == 2
    assert doc["succeeded"] == 0
    assert "empty" in {r["account"]: r for r in doc["results"]}["b"]["message"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["summary.csv", "summary.json"]
    r = invoke(
        "recommend", "--input", folder, "--budget", "100", "--out", tmp_path / "o", "--workers", "1"
    )
    assert r.exit_code == 2
    # the summary table lists both accounts with their errors
    assert "row 2, column 'spend'" in r.stdout
    assert "the file is empty" in r.stdout
    assert "0 ok, 2 failed" in r.stderr


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
