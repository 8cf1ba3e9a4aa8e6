"""``amplify validate``: every problem or a summary, exit codes 0 / 2 / 1, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import amplify.data
from amplify.cli import APP_PATH, app, streamlit_command

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
BAD = EXPORTS / "bad"
UCI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "facebook_page_posts_uci.csv"

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_clean_file_prints_a_summary() -> None:
    code, out = _run("validate", str(EXPORTS / "generic_canonical.csv"))
    assert code == 0, out
    assert "OK" in out
    assert "rows: 9 (instagram 4, tiktok 3, facebook 2)" in out
    assert "boosted: 4" in out
    assert "dates: 2024-01-02 to 2024-01-09" in out
    assert "organic columns: organic_impressions, organic_reach" in out


def test_bad_file_prints_every_problem_and_exits_2() -> None:
    code, out = _run("validate", str(BAD / "many_problems.csv"))
    assert code == 2
    assert "6 problems" in out
    for text in ("snapchat", "'not a date'", "'abc'", "negative", "exceed paid impressions"):
        assert text in out
    assert "cannot be used" in out


def test_json_lists_problems_with_rows_and_columns() -> None:
    code, out = _run("validate", str(BAD / "unknown_platform.csv"), "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["ok"] is False
    assert [(p["row"], p["column"]) for p in doc["problems"]] == [(3, "platform"), (4, "platform")]
    assert all(p["fix"] for p in doc["problems"])


def test_json_summary_of_an_export_with_auto_source() -> None:
    code, out = _run("validate", str(EXPORTS / "meta_platform_breakdown.csv"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["summary"]["source"] == "meta"
    assert doc["summary"]["platforms"] == {"instagram": 2, "facebook": 1}
    assert doc["summary"]["boosted"] == 3
    assert any("audience_network" in w["message"] for w in doc["warnings"])


def test_source_option_forces_an_importer() -> None:
    code, out = _run("validate", str(EXPORTS / "meta_campaign_usd.csv"), "--source", "generic")
    assert code == 2
    assert "--source meta" in out


def test_map_and_default_options() -> None:
    args = ["validate", str(EXPORTS / "generic_mapping_segments.csv"), "--json"]
    args += ["--map", "post_id=ad_id", "-m", "spend=Spent", "--map", "conversions=Total_Conversion"]
    code, out = _run(*args, "--default", "platform=FB")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert summary["platforms"] == {"facebook": 4}
    assert summary["boosted"] == 3
    assert "age" in summary["extra_columns"]


@pytest.mark.skipif(not UCI.exists(), reason=f"shared reference data not found at {UCI}")
def test_uci_page_posts_from_the_command_line() -> None:
    code, out = _run(
        "validate",
        str(UCI),
        "--map",
        "organic_impressions=Lifetime Post Total Impressions",
        "--map",
        "boosted=Paid",
        "--map",
        "format=Type",
        "--default",
        "platform=facebook",
    )
    assert code == 0, out
    assert "rows: 500 (facebook 500)" in out
    assert "boosted: 139" in out


def test_malformed_map_option_is_bad_input() -> None:
    code, out = _run("validate", str(EXPORTS / "generic_paid_only.csv"), "--map", "spend")
    assert code == 2
    assert "--map 'spend' is not of the form column=value" in out


def test_missing_file_is_bad_input() -> None:
    code, out = _run("validate", "/no/such/file.csv")
    assert code == 2
    assert "file not found" in out


def test_unexpected_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(amplify.data, "load", broken)
    result = runner.invoke(app, ["validate", str(EXPORTS / "generic_paid_only.csv")])
    assert result.exit_code == 1
    assert result.output.strip() == "amplify validate: unexpected error: RuntimeError: disk on fire"


def test_app_verb_runs_streamlit_on_the_repo_app() -> None:
    cmd = streamlit_command(["--server.port", "8502"])
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(APP_PATH)
    assert APP_PATH.name == "app.py"
    assert cmd[5:] == ["--server.port", "8502"]
    code, out = _run("--help")
    assert code == 0
    assert "validate" in out
    assert "app" in out


@pytest.mark.slow
def test_real_process_exit_codes() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "amplify.cli", "validate", str(BAD / "negative_spend.csv")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert bad.returncode == 2, bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    assert "spend is negative (-12.5)" in bad.stdout
    assert "│   4 │ spend" in bad.stdout
