"""Figures shared by the app and notebooks (amplify.plotting): data drawn and chart specs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplify.curves import ResponseCurves
from amplify.plotting import (
    PLATFORM_COLORS,
    curve_bands,
    diagnostics_chart,
    interval_chart,
    regret_chart,
    response_curves_chart,
    scenario_chart,
)


@pytest.fixture(scope="module")
def curves() -> ResponseCurves:
    rng = np.random.default_rng(1)
    n = 400
    beta = np.exp(rng.normal(np.log([0.05, 0.08, 0.03]), 0.2, size=(n, 3)))
    k = np.exp(rng.normal(np.log([300.0, 150.0, 600.0]), 0.2, size=(n, 3)))
    return ResponseCurves(
        arms=("facebook", "instagram", "tiktok"),
        beta=beta,
        k=k,
        platform=("facebook", "instagram", "tiktok"),
        max_observed_spend=np.array([500.0, 400.0, 1000.0]),
    )


def test_plotting_never_imports_streamlit() -> None:
    assert "streamlit" not in sys.modules or "amplify.plotting" in sys.modules
    import amplify.plotting as p

    src = Path(p.__file__).read_text()
    assert "import streamlit" not in src


def test_curve_bands_are_nested_and_match_the_draws(curves: ResponseCurves) -> None:
    df = curve_bands(curves, n_points=11)
    assert len(df) == 3 * 11
    assert set(df["arm"]) == set(curves.arms)
    assert df["spend"].max() == pytest.approx(2000.0)  # twice the largest observed spend
    assert (df["lo95"] <= df["lo80"] + 1e-12).all()
    assert (df["lo80"] <= df["mean"] + 1e-12).all()
    assert (df["mean"] <= df["hi80"] + 1e-12).all()
    assert (df["hi80"] <= df["hi95"] + 1e-12).all()
    at0 = df[df["spend"] == 0]
    assert np.allclose(at0[["mean", "lo95", "hi95"]].to_numpy(), 0.0)
    row = df[(df["arm"] == "instagram") & (df["spend"] == 1000.0)].iloc[0]
    expected = curves.conversions(np.array([0.0, 1000.0, 0.0]))[:, 1].mean()
    assert row["mean"] == pytest.approx(expected)
    # beyond the observed spend the curve is flagged as an extrapolation
    assert bool(row["extrapolated"])  # instagram observed up to 400
    assert not df[(df["arm"] == "tiktok") & (df["spend"] == 1000.0)]["extrapolated"].iloc[0]


def test_curve_bands_without_observed_spend_use_k(curves: ResponseCurves) -> None:
    bare = ResponseCurves(arms=curves.arms, beta=curves.beta, k=curves.k, platform=curves.platform)
    df = curve_bands(bare, n_points=5)
    assert df["spend"].max() == pytest.approx(2 * curves.k.mean(axis=0).max())
    assert not df["extrapolated"].any()


def test_response_curves_chart_has_bands_line_and_platform_colours(curves: ResponseCurves) -> None:
    spec = response_curves_chart(curves).to_dict()
    marks = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in spec["layer"]
    ]
    assert marks.count("area") == 2
    assert marks.count("line") == 2
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["range"][scale["domain"].index("tiktok")] == PLATFORM_COLORS["tiktok"]


def test_interval_chart_draws_both_intervals() -> None:
    df = pd.DataFrame(
        {
            "name": ["a", "b"],
            "m": [1.0, 2.0],
            "l8": [0.5, 1.5],
            "h8": [1.5, 2.5],
            "l9": [0.2, 1.0],
            "h9": [2.0, 3.0],
        }
    )
    spec = interval_chart(
        df, label="name", mean="m", lo80="l8", hi80="h8", lo95="l9", hi95="h9"
    ).to_dict()
    types = [lay["mark"]["type"] for lay in spec["layer"]]
    assert types == ["rule", "rule", "point"]
    assert spec["layer"][2]["encoding"]["y"]["sort"] == ["a", "b"]
    assert spec["layer"][0]["encoding"]["x"]["field"] == "lo95"


def test_scenario_chart_uses_the_comparison_columns() -> None:
    table = pd.DataFrame(
        {
            "scenario": ["baseline", "budget +20%"],
            "conv_mean": [100.0, 115.0],
            "conv_p10": [90.0, 103.0],
            "conv_p90": [110.0, 127.0],
            "p2.5": [85.0, 98.0],
            "p97.5": [116.0, 133.0],
        }
    )
    spec = scenario_chart(table, lo95="p2.5", hi95="p97.5").to_dict()
    assert len(spec["layer"]) == 3
    # a "." in a field name (p2.5) is nested access in Vega-Lite: columns are copied to plain names
    values = next(iter(spec["datasets"].values()))
    assert values[1] == {
        "label": "budget +20%",
        "mean": 115.0,
        "lo80": 103.0,
        "hi80": 127.0,
        "lo95": 98.0,
        "hi95": 133.0,
    }


def test_regret_chart_with_band() -> None:
    df = pd.DataFrame(
        {
            "day": [1, 2, 1, 2],
            "policy": ["thompson"] * 2 + ["uniform"] * 2,
            "cum_regret": [1.0, 1.5, 2.0, 4.0],
        }
    )
    df["lo"] = df["cum_regret"] * 0.8
    df["hi"] = df["cum_regret"] * 1.2
    spec = regret_chart(df, lo="lo", hi="hi").to_dict()
    assert [lay["mark"]["type"] for lay in spec["layer"]] == ["area", "line"]
    assert len(regret_chart(df).to_dict()["layer"]) == 1


def test_diagnostics_chart_flags_bad_parameters() -> None:
    summary = pd.DataFrame(
        {"parameter": ["a", "b"], "r_hat": [1.0, 1.2], "ess_bulk": [900.0, 50.0]}
    )
    spec = diagnostics_chart(summary).to_dict()
    values = next(iter(spec["datasets"].values()))
    ok = {v["parameter"]: (v["rhat_ok"], v["ess_ok"]) for v in values}
    assert ok == {"a": (True, True), "b": (False, False)}
