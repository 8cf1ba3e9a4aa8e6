"""Figures shared by the app and the notebooks (Altair; never imports streamlit).

Each figure has a pure data function (a tidy DataFrame, tested directly) and a chart function that
draws it:

- :func:`curve_bands` / :func:`response_curves_chart` — conversions vs spend per arm, posterior
  mean with 80% and 95% credible bands, dashed beyond the largest spend observed (extrapolation);
- :func:`interval_chart` — a forest plot of means with 80%/95% intervals (plans, scenarios, the
  organic→paid effect, candidate posts); :func:`scenario_chart` applies it to a scenario comparison;
- :func:`regret_chart` — cumulative regret of allocation policies over days, with bands;
- :func:`diagnostics_chart` — r_hat and effective sample size per parameter vs their thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import altair as alt
import numpy as np
import pandas as pd

from amplify.curves import ResponseCurves

#: Brand-ish colours per platform, used everywhere so a platform keeps its colour across charts.
PLATFORM_COLORS: dict[str, str] = {
    "facebook": "#1877F2",
    "instagram": "#E1306C",
    "tiktok": "#111111",
}
_FALLBACK = ["#4C78A8", "#F58518", "#54A24B", "#B279A2", "#9D755D", "#72B7B2", "#EECA3B"]


def color_scale(names: Sequence[str]) -> alt.Scale:
    """A colour scale giving each platform its colour and other names a stable palette colour."""
    domain = list(dict.fromkeys(names))
    rng = []
    other = 0
    for n in domain:
        if n in PLATFORM_COLORS:
            rng.append(PLATFORM_COLORS[n])
        else:
            rng.append(_FALLBACK[other % len(_FALLBACK)])
            other += 1
    return alt.Scale(domain=domain, range=rng)


def _quantiles(x: np.ndarray, levels: Sequence[float]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for lev in levels:
        a = (1.0 - lev) / 2.0
        pct = round(100 * lev)
        out[f"lo{pct}"] = np.quantile(x, a, axis=0)
        out[f"hi{pct}"] = np.quantile(x, 1.0 - a, axis=0)
    return out


# --- response curves ------------------------------------------------------------------------------
def curve_bands(
    curves: ResponseCurves,
    *,
    max_spend: float | None = None,
    n_points: int = 41,
    levels: Sequence[float] = (0.8, 0.95),
) -> pd.DataFrame:
    """Posterior mean and credible bands of every arm's conversions on a spend grid.

    Parameters
    ----------
    curves
        Posterior draws of the response curves.
    max_spend
        Right end of the grid; default: twice the largest observed spend of any arm (or twice the
        largest posterior-mean saturation ``k`` when the curves carry no observed spend).
    n_points
        Grid size (the grid starts at 0).
    levels
        Central credible levels; each adds columns ``lo<pct>`` and ``hi<pct>``.

    Returns
    -------
    pandas.DataFrame
        One row per (arm, spend): ``arm, platform, spend, mean, lo80, hi80, lo95, hi95,
        extrapolated`` (``extrapolated`` is True beyond the arm's largest observed spend).
    """
    if max_spend is None:
        if curves.max_observed_spend is not None and np.nanmax(curves.max_observed_spend) > 0:
            max_spend = 2.0 * float(np.nanmax(curves.max_observed_spend))
        else:
            max_spend = 2.0 * float(np.max(curves.k.mean(axis=0)))
    grid = np.linspace(0.0, float(max_spend), n_points)
    frames = []
    for j, arm in enumerate(curves.arms):
        conv = (
            curves.beta[:, j, None] * grid[None, :] / (1.0 + grid[None, :] / curves.k[:, j, None])
        )
        cols = {
            "arm": arm,
            "platform": curves.platform[j],
            "spend": grid,
            "mean": conv.mean(axis=0),
        }
        cols.update(_quantiles(conv, levels))
        mos = None if curves.max_observed_spend is None else float(curves.max_observed_spend[j])
        cols["extrapolated"] = (
            grid > mos if mos is not None and np.isfinite(mos) else np.zeros_like(grid, bool)
        )
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def response_curves_chart(
    curves: ResponseCurves,
    *,
    max_spend: float | None = None,
    n_points: int = 41,
    title: str = "Conversions vs spend (mean, 80% and 95% credible bands)",
    currency: str = "$",
    height: int = 320,
) -> alt.LayerChart:
    """Response curves of every arm, 80% and 95% credible bands; dashed beyond observed spend."""
    df = curve_bands(curves, max_spend=max_spend, n_points=n_points)
    color = alt.Color("arm:N", scale=color_scale(list(curves.arms)), title=None)
    base = alt.Chart(df).encode(
        x=alt.X("spend:Q", title=f"Spend ({currency})"),
        color=color,
    )
    band95 = base.mark_area(opacity=0.12).encode(
        y=alt.Y("lo95:Q", title="Conversions"), y2="hi95:Q"
    )
    band80 = base.mark_area(opacity=0.25).encode(y="lo80:Q", y2="hi80:Q")
    tooltip = [
        alt.Tooltip("arm:N"),
        alt.Tooltip("spend:Q", format=",.0f"),
        alt.Tooltip("mean:Q", format=",.1f", title="conversions (mean)"),
        alt.Tooltip("lo80:Q", format=",.1f", title="80% low"),
        alt.Tooltip("hi80:Q", format=",.1f", title="80% high"),
    ]
    observed = (
        base.transform_filter(~alt.datum.extrapolated)
        .mark_line(size=2.5)
        .encode(y="mean:Q", tooltip=tooltip)
    )
    beyond = (
        base.transform_filter(alt.datum.extrapolated)
        .mark_line(size=2, strokeDash=[5, 4])
        .encode(y="mean:Q", tooltip=tooltip)
    )
    chart = alt.layer(band95, band80, observed, beyond).properties(title=title, height=height)
    return cast(alt.LayerChart, chart)


# --- intervals ------------------------------------------------------------------------------------
def interval_chart(
    df: pd.DataFrame,
    *,
    label: str,
    mean: str,
    lo80: str | None = None,
    hi80: str | None = None,
    lo95: str | None = None,
    hi95: str | None = None,
    color: str | None = None,
    x_title: str = "",
    title: str = "",
    zero_rule: bool = False,
    height: int | None = None,
) -> alt.LayerChart:
    """A forest plot: one row per ``label``, a point at ``mean``, thick 80% and thin 95% bars.

    Row order follows ``df``. ``color`` names a column to colour by (platform colours where they
    apply).
    """
    # Vega-Lite reads "." in a field name as nested access: copy the columns to plain names.
    names = {"label": label, "mean": mean, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95}
    data = pd.DataFrame({k: df[v].to_numpy() for k, v in names.items() if v})
    data["label"] = data["label"].astype(str)
    if color is not None:
        data["color"] = df[color].astype(str).to_numpy()
    order = list(dict.fromkeys(data["label"]))
    enc: dict[str, object] = {
        "y": alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=240))
    }
    if color is not None:
        enc["color"] = alt.Color("color:N", scale=color_scale(list(data["color"])), title=None)
    base = alt.Chart(data).encode(**enc)  # type: ignore[arg-type]
    xscale = alt.Scale(zero=zero_rule, nice=True)
    layers: list[alt.Chart] = []
    if lo95 and hi95:
        layers.append(
            base.mark_rule(size=1.5).encode(
                x=alt.X("lo95:Q", title=x_title, scale=xscale), x2="hi95:Q"
            )
        )
    if lo80 and hi80:
        layers.append(
            base.mark_rule(size=6, opacity=0.6).encode(
                x=alt.X("lo80:Q", title=x_title, scale=xscale), x2="hi80:Q"
            )
        )
    tooltip = [
        alt.Tooltip(f"{k}:Q", format=",.3~f", title=f"{k} ({v})" if k != "mean" else v)
        for k, v in names.items()
        if v and k != "label"
    ]
    layers.append(
        base.mark_point(filled=True, size=90).encode(
            x=alt.X("mean:Q", title=x_title, scale=xscale),
            tooltip=[alt.Tooltip("label:N", title=label), *tooltip],
        )
    )
    if zero_rule:
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"x": [0.0]}))
            .mark_rule(color="#999", strokeDash=[3, 3])
            .encode(x="x:Q"),
        )
    chart = alt.layer(*layers)
    # a step per row: Streamlit shrinks a fixed pixel height of a discrete axis
    props: dict[str, object] = {"height": height if height else alt.Step(36)}
    if title:
        props["title"] = title
    return cast(alt.LayerChart, chart.properties(**props))


def scenario_chart(
    table: pd.DataFrame,
    *,
    label: str = "scenario",
    mean: str = "conv_mean",
    lo80: str | None = "conv_p10",
    hi80: str | None = "conv_p90",
    lo95: str | None = "conv_p2_5",
    hi95: str | None = "conv_p97_5",
    x_title: str = "Expected conversions",
    title: str = "Scenarios side by side (80% and 95% intervals)",
) -> alt.LayerChart:
    """Scenario comparison: expected conversions per scenario with 80% and 95% intervals.

    Defaults fit the ``"total"`` rows of :func:`amplify.scenarios.compare`.
    """
    return interval_chart(
        table,
        label=label,
        mean=mean,
        lo80=lo80,
        hi80=hi80,
        lo95=lo95,
        hi95=hi95,
        x_title=x_title,
        title=title,
    )


# --- regret ---------------------------------------------------------------------------------------
def regret_chart(
    df: pd.DataFrame,
    *,
    x: str = "day",
    y: str = "cum_regret",
    policy: str = "policy",
    lo: str | None = None,
    hi: str | None = None,
    colors: Mapping[str, str] | None = None,
    title: str = "Cumulative regret (conversions lost vs the best possible split)",
    height: int = 320,
) -> alt.LayerChart:
    """Cumulative regret per policy over days; a band when ``lo``/``hi`` columns are given.

    ``colors`` maps policy names to colours (others get the default palette).
    """
    names = list(dict.fromkeys(df[policy].astype(str)))
    scale = (
        alt.Scale(
            domain=names, range=[colors.get(n, _FALLBACK[i % 7]) for i, n in enumerate(names)]
        )
        if colors
        else alt.Undefined
    )
    base = alt.Chart(df).encode(
        x=alt.X(f"{x}:Q", title="Day"),
        color=alt.Color(
            f"{policy}:N", title="Policy", scale=scale, legend=alt.Legend(labelLimit=320)
        ),
    )
    layers = []
    if lo and hi:
        layers.append(
            base.mark_area(opacity=0.2).encode(
                y=alt.Y(f"{lo}:Q", title="Cumulative regret"), y2=f"{hi}:Q"
            )
        )
    layers.append(
        base.mark_line(size=2.5).encode(
            y=alt.Y(f"{y}:Q", title="Cumulative regret (conversions)"),
            tooltip=[
                alt.Tooltip(f"{policy}:N"),
                alt.Tooltip(f"{x}:Q"),
                alt.Tooltip(f"{y}:Q", format=",.1f"),
            ],
        )
    )
    return cast(alt.LayerChart, alt.layer(*layers).properties(title=title, height=height))


# --- diagnostics ----------------------------------------------------------------------------------
def diagnostics_chart(
    summary: pd.DataFrame,
    *,
    parameter: str = "parameter",
    rhat: str = "r_hat",
    ess: str = "ess_bulk",
    rhat_limit: float = 1.01,
    ess_limit: float = 400.0,
) -> alt.HConcatChart:
    """Two dot plots side by side: r_hat and ESS per parameter, each with its limit line."""
    data = summary[[parameter, rhat, ess]].copy()
    data[parameter] = data[parameter].astype(str)
    data["rhat_ok"] = data[rhat] <= rhat_limit
    data["ess_ok"] = data[ess] >= ess_limit
    ok_scale = alt.Scale(domain=[True, False], range=["#54A24B", "#E45756"])
    base = alt.Chart(data).encode(y=alt.Y(f"{parameter}:N", title=None, sort=None))
    rh = alt.layer(
        base.mark_point(filled=True).encode(
            x=alt.X(f"{rhat}:Q", scale=alt.Scale(zero=False), title="r_hat (≤ 1.01 is good)"),
            color=alt.Color("rhat_ok:N", scale=ok_scale, legend=None),
        ),
        alt.Chart(pd.DataFrame({"x": [rhat_limit]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q"),
    )
    es = alt.layer(
        base.mark_point(filled=True).encode(
            x=alt.X(f"{ess}:Q", title="effective sample size (≥ 400 is good)"),
            color=alt.Color("ess_ok:N", scale=ok_scale, legend=None),
        ),
        alt.Chart(pd.DataFrame({"x": [ess_limit]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q"),
    )
    return alt.hconcat(rh, es)
