"""The analyst notebooks run top to bottom (real, small sampling) and their key numbers hold.

Each notebook ends with a cell printing ``AMPLIFY_RESULTS {json}``; these tests execute the notebook
with ``nbclient`` in a ``python3`` kernel of this interpreter (``AMPLIFY_NOTEBOOK_FAST=1`` keeps the
sampling short) and check those numbers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARKER = "AMPLIFY_RESULTS "

pytestmark = pytest.mark.slow


def run_notebook(name: str, timeout: int = 600) -> tuple[Any, dict[str, Any], float]:
    """Execute ``notebooks/<name>.ipynb``; return the executed notebook, its RESULTS and seconds.

    The kernel inherits the environment: ``AMPLIFY_NOTEBOOK_FAST=1`` and matplotlib's inline
    backend (PNG figures rendered headless, as in Jupyter) are set by the autouse fixture.
    """
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: commit notebooks with outputs cleared"
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    found = [
        out["text"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "stream" and MARKER in out.get("text", "")
    ]
    assert found, f"{path.name}: no {MARKER.strip()} line printed"
    line = next(ln for ln in found[-1].splitlines() if ln.startswith(MARKER))
    results = json.loads(line[len(MARKER) :])
    print(f"{name}: {seconds:.1f} s {json.dumps(results)}")
    return nb, results, seconds


@pytest.fixture(autouse=True)
def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMPLIFY_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def count_figures(nb: Any) -> tuple[int, int]:
    """(matplotlib PNGs, Altair charts) among the executed notebook's outputs."""
    png = charts = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            png += "image/png" in data
            charts += any("vegalite" in k for k in data) or "vega" in str(data.get("text/html", ""))
    return png, charts


def _same_python(results: dict[str, Any]) -> None:
    assert Path(results["python"]).resolve() == Path(sys.executable).resolve(), (
        "the notebook kernel is not this project's interpreter"
    )


def test_quickstart() -> None:
    nb, r, _ = run_notebook("01_quickstart")
    _same_python(r)
    assert count_figures(nb)[1] >= 3  # curves, plan intervals, what-if
    assert r["fast"] is True
    assert r["n_posts"] > 100
    # the plan spends exactly the budget, split over the platforms
    assert r["plan_spend_total"] == pytest.approx(r["budget"], rel=1e-6)
    assert sum(r["plan_by_platform"].values()) == pytest.approx(r["budget"], rel=1e-6)
    assert all(x >= 0 for x in r["plan_by_platform"].values())
    conv = r["conv"]
    assert 0 < conv["conv_p10"] <= conv["conv_mean"] <= conv["conv_p90"]
    assert conv["cpa_mean"] > 0
    diag = r["diagnostics"]
    assert diag["max_rhat"] < 1.1
    assert diag["divergences"] <= 5
    # dearer Instagram impressions can only cost conversions, draw by draw
    ig = r["what_if"]["Instagram CPMs +20%"]
    assert ig["delta_conv_mean"] < 0
    assert ig["delta_conv_p90"] <= 1e-9
    assert ig["spend"] == pytest.approx(r["budget"], rel=1e-6)
    cut = r["what_if"]["Cut TikTok by 30%"]
    assert cut["delta_conv_p10"] <= cut["delta_conv_mean"] <= cut["delta_conv_p90"]


def test_model_checks() -> None:
    nb, r, _ = run_notebook("02_model_checks")
    _same_python(r)
    png, charts = count_figures(nb)
    assert png >= (4 if r["uci"]["available"] else 3)  # prior, PPC, recovery (+ page posts)
    assert charts >= (3 if r["uci"]["available"] else 2)  # diagnostics, organic effect (+ UCI)
    # prior predictive: the priors allow the observed data without being absurdly wide
    assert r["prior_predictive"]["observed_within_prior_90"] >= 0.8
    # sampler diagnostics of the recovery fit
    assert r["diagnostics"]["max_rhat"] < 1.1
    assert r["diagnostics"]["divergences"] <= 5
    # posterior predictive: observed conversions mostly inside their 90% predictive intervals
    assert r["posterior_predictive"]["coverage_90_conversions"] >= 0.75
    p_values = [v for k, v in r["posterior_predictive"]["in_sample"].items() if k.startswith("p_")]
    assert p_values
    assert all(0.01 <= p <= 0.99 for p in p_values)
    # parameter recovery on a simulated world: 90% intervals cover the truth most of the time
    assert r["recovery"]["n_params"] >= 15
    assert r["recovery"]["coverage_90"] >= 0.7
    # organic -> paid effect: positive in the simulated world, and its interval covers the truth
    eff = r["organic_effect"]
    assert all(e["lo90"] < e["mean"] < e["hi90"] for e in eff.values())
    assert sum(e["lo90"] <= e["truth"] <= e["hi90"] for e in eff.values()) >= len(eff) - 1
    assert sum(e["prob_positive"] > 0.9 for e in eff.values()) >= 2
    # the real page-post data (skipped inside the notebook when the file is absent)
    uci = r["uci"]
    if uci["available"]:
        assert uci["n_posts"] == 499
        assert uci["n_paid"] == 139
        # paid posts reach more people than organic ones, all else equal (real data, 2014)
        assert uci["paid_reach_ratio"]["lo90"] > 1.0
        assert uci["paid_reach_ratio"]["lo90"] < uci["paid_reach_ratio"]["mean"]
        assert uci["paid_reach_ratio"]["mean"] < uci["paid_reach_ratio"]["hi90"]


def test_campaign_backtest() -> None:
    nb, r, _ = run_notebook("03_campaign_backtest")
    _same_python(r)
    png, charts = count_figures(nb)
    assert png >= 3  # true curves, % of oracle, spend shares
    assert charts >= 2  # regret: stable world, changing world
    assert r["days"] == 90
    assert r["oracle_spend_ok"]
    pct = r["pct_oracle"]
    # nobody beats the oracle on average; learning beats a blind uniform split by a clear margin
    assert all(v <= 100.0 + 1e-6 for v in pct.values())
    assert pct["thompson"] > pct["uniform"] + 3.0
    assert pct["thompson"] >= 95.0
    assert r["pct_oracle_min"]["thompson"] > r["pct_oracle_min"]["uniform"]
    assert r["pct_oracle_severe_change"]["thompson"] > r["pct_oracle_severe_change"]["uniform"]
    assert r["final_cum_regret"]["thompson"] < r["final_cum_regret"]["uniform"]
    # smoothing keeps Thompson's daily budget moves moderate; uniform never moves
    assert r["churn_pct"]["uniform"] == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < r["churn_pct"]["thompson"] < 15.0
