"""The Streamlit app through ``streamlit.testing.v1.AppTest``: every page, driven by widget keys.

Fits are real but small (``AMPLIFY_FAST_FIT=1``: the fast approximate mode, few draws) and happen
once per module: the fitted model is shared through the app's model cache, as between real sessions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from amplify.data import load_sample
from amplify.ui import session
from amplify.ui import state as S

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGES = "src/amplify/ui/pages"
SAMPLE_CSV = REPO / "data" / "sample_posts.csv"


@pytest.fixture(scope="module", autouse=True)
def app_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Small real fits and a private model cache for this module."""
    mp = pytest.MonkeyPatch()
    mp.setenv(S.FAST_FIT_ENV, "1")
    mp.setenv("AMPLIFY_CACHE_DIR", str(tmp_path_factory.mktemp("model_cache")))
    mp.setenv("AMPLIFY_LEDGER", str(tmp_path_factory.mktemp("ledger") / "app_ledger.db"))
    session.model_cache.clear()
    yield
    session.model_cache.clear()
    mp.undo()


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"{PAGES}/{page}.py").run()
    assert not at.exception, at.exception
    return at


def sidebar_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def fitted_app(page: str) -> AppTest:
    """An app on ``page`` with the fast fit of the sample account (fitted once per module)."""
    at = goto(new_app(), "model")
    at.radio(key=S.FIT_MODE).set_value(S.FIT_FAST)
    at.button(key=S.FIT_BUTTON).click().run()
    assert not at.exception, at.exception
    return goto(at, page) if page != "model" else at


def csv_bytes(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def table_frame(at: AppTest, i: int = 0) -> pd.DataFrame:
    return at.table[i].value


def cell(table: pd.DataFrame, row: str, column: str) -> str:
    return str(table.at[row, column])


def dataframe_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first ``st.dataframe`` on the page that has ``column``."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no dataframe with a {column!r} column")


# --- Data ---------------------------------------------------------------------------
def test_data_page_starts_on_the_sample_account() -> None:
    at = new_app()
    sample = load_sample()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Posts"] == f"{len(sample):,}"
    assert metrics["Boosted"] == f"{int(sample['boosted'].sum()):,}"
    assert "Sample account" in sidebar_text(at)
    from streamlit import config

    limit = f"{config.get_option('server.maxUploadSize'):g} MB"  # 50 MB from .streamlit/config.toml
    assert any(limit in c.value for c in at.caption)  # the upload limit is stated
    assert not at.error


def test_bad_upload_shows_every_problem_with_row_and_column() -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[:8]
    header = lines[0].split(",")
    spend_i, platform_i = header.index("spend"), header.index("platform")
    row3 = lines[2].split(",")
    row3[spend_i] = "abc"
    lines[2] = ",".join(row3)
    row6 = lines[5].split(",")
    row6[platform_i] = "myspace"
    lines[5] = ",".join(row6)
    at = new_app()
    at.file_uploader(key=S.UPLOAD).set_value(("broken.csv", csv_bytes(lines), "text/csv")).run()
    assert not at.exception
    assert any("broken.csv" in e.value and "cannot be used" in e.value for e in at.error)
    problems = dataframe_with(at, "fix")
    assert list(problems.columns) == ["row", "column", "problem", "fix"]
    located = set(zip(problems["row"], problems["column"], strict=True))
    assert ("3", "spend") in located
    assert ("6", "platform") in located
    assert (problems["fix"].str.len() > 0).all()
    # the sample stays active
    assert "Sample account" in sidebar_text(at)


def test_good_upload_becomes_this_sessions_data_only() -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[:121]
    a = new_app()
    a.file_uploader(key=S.UPLOAD).set_value(("my_account.csv", csv_bytes(lines), "text/csv")).run()
    assert not a.exception
    assert any("Loaded **my_account.csv**: 120 posts" in s.value for s in a.success)
    assert {m.label: m.value for m in a.metric}["Posts"] == "120"
    assert "my_account.csv" in sidebar_text(a)
    b = new_app()  # another browser session at the same time
    assert "Sample account" in sidebar_text(b)
    assert {m.label: m.value for m in b.metric}["Posts"] == f"{len(load_sample()):,}"
    a.run()
    assert "my_account.csv" in sidebar_text(a)


def test_generic_upload_with_column_mapping() -> None:
    sample = pd.read_csv(SAMPLE_CSV).head(60)
    odd = sample.rename(columns={"post_id": "Creative", "platform": "Channel", "spend": "Cost USD"})
    buf = io.StringIO()
    odd.to_csv(buf, index=False)
    at = new_app()
    at.selectbox(key=S.SOURCE).set_value("Generic CSV (map the columns)").run()
    at.file_uploader(key=S.UPLOAD).set_value(("odd.csv", buf.getvalue().encode(), "text/csv")).run()
    assert not at.exception
    at.selectbox(key=S.mapping_key("post_id")).set_value("Creative")
    at.selectbox(key=S.mapping_key("platform")).set_value("Channel")
    at.selectbox(key=S.mapping_key("spend")).set_value("Cost USD").run()
    assert not at.exception
    assert any("Loaded **odd.csv**: 60 posts" in s.value for s in at.success), [
        e.value for e in at.error
    ]


def test_tiktok_ads_manager_export() -> None:
    export = REPO / "tests" / "fixtures" / "exports" / "tiktok_cost_usd.csv"
    at = new_app()
    at.selectbox(key=S.SOURCE).set_value("TikTok Ads Manager export").run()
    at.file_uploader(key=S.UPLOAD).set_value((export.name, export.read_bytes(), "text/csv")).run()
    assert not at.exception
    assert any(f"Loaded **{export.name}**" in s.value for s in at.success)
    assert set(at.session_state[S.POSTS]["platform"]) == {"tiktok"}


def test_upload_above_the_limit_is_refused_with_a_clear_message() -> None:
    from streamlit import config

    old = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = new_app()
        big = SAMPLE_CSV.read_bytes() * 40  # > 1 MB
        at.file_uploader(key=S.UPLOAD).set_value(("big.csv", big, "text/csv")).run()
        assert not at.exception
        assert any("the limit is 1 MB" in e.value for e in at.error)
        assert any("1 MB" in c.value for c in at.caption)
        assert "Sample account" in sidebar_text(at)
    finally:
        config.set_option("server.maxUploadSize", old)


# --- Model ---------------------------------------------------------------------------
def test_model_page_fast_fit_shows_verdicts_curves_effect_and_candidates() -> None:
    at = goto(new_app(), "model")
    assert any("No fitted model" in i.value for i in at.info)
    at = fitted_app("model")
    assert any("fast first look (approximate)" in c.value for c in at.caption)
    verdicts = table_frame(at, 0)
    assert "approximate" in " ".join(map(str, verdicts["Value"]))
    effect = table_frame(at, 1)
    assert set(effect.index) == {"facebook", "instagram", "tiktok"}
    assert all(re.fullmatch(r"[+-]\d+\.\d\d – [+-]\d+\.\d\d", v) for v in effect["90% interval"])
    assert len(at.get("vega_lite_chart")) >= 2  # response curves + organic effect
    ranked = dataframe_with(at, "Conversions per $100")
    assert len(ranked) > 0
    assert (ranked["90% low"] <= ranked["90% high"]).all()
    assert (ranked["Conversions per $100"] > 0).all()
    assert list(ranked["Rank"]) == sorted(ranked["Rank"])
    assert "fast first look" in " ".join(c.value for c in at.sidebar.caption)


# --- Plan ---------------------------------------------------------------------------
def money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_plan_spends_the_budget_with_intervals_and_replans_without_refitting() -> None:
    at = fitted_app("plan")
    fits = session.model_cache().fits
    at.number_input(key=S.BUDGET).set_value(4000.0).run()
    assert not at.exception
    table = table_frame(at)
    assert money(cell(table, "Total", "Spend")) == 4000.0
    plan = at.session_state[S.LAST_PLAN]
    assert plan.total["spend"] == pytest.approx(4000.0)
    assert plan.per_platform["spend"].sum() == pytest.approx(4000.0)
    for name in ("facebook", "instagram", "tiktok", "Total"):
        lo, hi = (float(x.replace(",", "")) for x in cell(table, name, "80% range").split(" – "))
        lo95, hi95 = (
            float(x.replace(",", "")) for x in cell(table, name, "95% range").split(" – ")
        )
        assert lo95 <= lo <= hi <= hi95
    assert table["P(best for next $)"].iloc[:3].str.endswith("%").all()
    assert {getattr(b, "label", None) for b in at.get("download_button")} == {
        "Download plan (CSV)",
        "Download plan (JSON)",
    }
    # lock a platform: the plan follows, still no refit
    at.checkbox(key=S.lock_key("tiktok")).check().run()
    at.number_input(key=S.lock_amount_key("tiktok")).set_value(300.0).run()
    table = table_frame(at)
    assert money(cell(table, "tiktok", "Spend")) == 300.0
    assert money(cell(table, "Total", "Spend")) == 4000.0
    assert cell(table, "tiktok", "Marginal CPA") == "at its limit"
    assert any("tiktok is locked" in w.value for w in at.warning)
    # use it: recorded in the ledger, and it becomes the plan in use for the max-change limit
    at.button(key="record_plan").click().run()
    assert any("Recorded as round 0" in s.value for s in at.success)
    at.checkbox(key=S.lock_key("tiktok")).uncheck()
    at.slider(key=S.MAX_CHANGE).set_value(5).run()
    table = table_frame(at)
    assert abs(money(cell(table, "tiktok", "Spend")) - 300.0) <= 0.05 * 4000 + 1.0
    assert session.model_cache().fits == fits


def test_impossible_limits_explain_themselves() -> None:
    at = fitted_app("plan")
    at.number_input(key=S.BUDGET).set_value(1000.0)
    at.number_input(key=S.min_key("facebook")).set_value(2000.0).run()
    assert not at.exception
    assert any("cannot be met" in e.value for e in at.error)
    assert not at.table  # never a plan that ignores the limits


# --- Scenarios ---------------------------------------------------------------------------
def test_scenarios_side_by_side_with_intervals() -> None:
    at = fitted_app("scenarios")
    table = table_frame(at)
    assert list(table.index) == ["baseline", "Budget +20%", "Instagram CPM +20%"]
    base, more = money(cell(table, "baseline", "Spend")), money(cell(table, "Budget +20%", "Spend"))
    assert more == pytest.approx(1.2 * base, abs=1.0)
    # more budget can only help; dearer impressions can only hurt (paired, draw by draw)
    assert float(cell(table, "Budget +20%", "Change vs baseline")) > 0
    assert float(cell(table, "Instagram CPM +20%", "Change vs baseline")) <= 0
    # add a what-if: TikTok's conversion rate drops 30%
    at.text_input(key=S.SC_NAME).input("TikTok CVR -30%")
    at.selectbox(key=S.SC_SHOCK_PLATFORM).set_value("tiktok")
    at.slider(key=S.SC_CVR).set_value(-30)
    at.button(key="FormSubmitter:scenario_form-Add what-if").click().run()
    assert not at.exception
    table = table_frame(at)
    assert "TikTok CVR -30%" in table.index
    assert float(cell(table, "TikTok CVR -30%", "Change vs baseline")) <= 0
    assert re.fullmatch(r"[\d.,]+ – [\d.,]+", cell(table, "TikTok CVR -30%", "80% range"))
    assert len(at.get("vega_lite_chart")) == 2


# --- Simulate ---------------------------------------------------------------------------
def test_simulate_page_shows_regret_of_thompson_vs_baselines() -> None:
    at = goto(new_app(), "simulate")
    at.slider(key=S.SIM_DAYS).set_value(14)
    at.button(key="FormSubmitter:sim_form-Run the simulation").click().run()
    assert not at.exception
    table = table_frame(at)
    assert set(table.index) == {
        "Thompson sampling (amplify)",
        "Greedy (posterior mean)",
        "Uniform split",
    }
    _, res = at.session_state[S.SIM_RESULT]
    assert res.daily["day"].max() == 14
    assert (res.summary["pct_of_oracle"] <= 100.0 + 1e-6).all()
    regret = res.summary.set_index("policy")["regret"]
    assert regret["Uniform split"] > regret["Thompson sampling (amplify)"]
    assert len(at.get("vega_lite_chart")) == 1
    # a month of past days leaves less to learn: the same world, less regret
    at.slider(key=S.SIM_HISTORY).set_value(30)
    at.button(key="FormSubmitter:sim_form-Run the simulation").click().run()
    assert not at.exception
    _, informed = at.session_state[S.SIM_RESULT]
    after = informed.summary.set_index("policy")["regret"]
    assert after["Thompson sampling (amplify)"] < regret["Thompson sampling (amplify)"]
    assert after["Uniform split"] == pytest.approx(regret["Uniform split"])


# --- never a traceback ---------------------------------------------------------------------------
def _failing_page() -> None:
    import streamlit as st

    from amplify.errors import DataError, Problem
    from amplify.ui.guard import page_guard

    with page_guard("doing the first thing"):
        raise RuntimeError("boom\nwith a second line")
    with page_guard("doing the second thing"):
        raise DataError([Problem("x.csv", 4, "clicks", "clicks above impressions", "check row 4")])
    st.write("still running")


def test_errors_become_short_messages_never_tracebacks() -> None:
    at = AppTest.from_function(_failing_page, default_timeout=30).run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert "Something went wrong while doing the first thing: boom" in messages
    assert any("doing the second thing" in m for m in messages)
    problems = dataframe_with(at, "fix")
    assert problems.iloc[0].tolist() == ["4", "clicks", "clicks above impressions", "check row 4"]
    assert at.markdown[-1].value == "still running"
