"""``amplify scenario``: a YAML/JSON file of what-ifs → a comparison table next to the baseline.

The file is a list of scenarios, or a mapping with a ``scenarios:`` list and the baseline's settings
(``budget``, ``platforms``, ... as in a settings file)::

    budget: 5000 scenarios:
      - name: cut TikTok 30%
        bounds: {tiktok: {max: 1000}}
      - name: Instagram CPMs +20%
        shocks: {instagram: {cpm: 0.2}}
      - name: more budget
        budget: 6000
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from amplify.commands.common import (
    AllowBadFitOpt,
    ChainsOpt,
    DrawsOpt,
    JsonOpt,
    MapOpt,
    MethodOpt,
    SeedOpt,
    SettingsOpt,
    SourceOpt,
    TuneOpt,
    check_fit,
    emit_json,
    fit_overrides,
    handle_errors,
    info,
    load_or_fit,
    show,
)
from amplify.commands.recommend import frame_table
from amplify.pipeline import (
    SettingsError,
    _jsonable,
    atomic_write_text,
    load_scenarios,
    make_settings,
    what_if,
)


def scenario_command(
    scenarios_file: Annotated[Path, typer.Argument(help="YAML/JSON file of what-ifs.")],
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="Account data (fitted here).")
    ] = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="A model folder saved by `amplify fit`.")
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", "-b", help="The baseline's total budget.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the full table (.csv or .json).")
    ] = None,
    by_platform: Annotated[
        bool, typer.Option("--by-platform", help="Show every platform's row, not only totals.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail (exit 2) when a what-if has no effect at all."),
    ] = False,
    settings_file: SettingsOpt = None,
    source: SourceOpt = None,
    mapping: MapOpt = None,
    method: MethodOpt = None,
    draws: DrawsOpt = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: SeedOpt = None,
    allow_bad_fit: AllowBadFitOpt = False,
    json_mode: JsonOpt = False,
) -> None:
    """Compare what-ifs (budget, bounds, locks, cost shocks) with the baseline plan, with intervals.

    Exit codes: 0 ok, 1 internal error, 2 bad input, 3 failed convergence.
    """
    with handle_errors(json_mode):
        if (input_path is None) == (model_dir is None):
            raise SettingsError("give exactly one of --input (account data) and --model")
        if out is not None and out.suffix.lower() not in (".csv", ".json"):
            raise SettingsError(f"--out {out}: use a .csv or .json file name")
        scenarios, baseline = load_scenarios(scenarios_file)
        prev = baseline.get("previous")
        if isinstance(prev, str) and not Path(prev).is_absolute():
            baseline["previous"] = str(scenarios_file.parent / prev)
        settings = make_settings(settings_file)
        if baseline:
            try:
                settings = settings.with_overrides(**baseline)
            except SettingsError as err:
                raise SettingsError(f"{scenarios_file}:\n{err}") from None
        settings = settings.with_overrides(
            budget=budget, **fit_overrides(source, mapping, method, draws, tune, chains, seed)
        )
        if settings.budget is None:
            raise SettingsError(
                "budget: missing; give --budget or set `budget:` in the scenario or settings file"
            )
        model = load_or_fit(input_path, model_dir, settings, json_mode=json_mode)
        diagnostics = check_fit(model, allow_bad_fit=allow_bad_fit, json_mode=json_mode)
        table = what_if(model, settings, scenarios)
        no_effect = table.loc[
            (table["platform"] == "total") & table["note"].str.startswith("no effect"), "scenario"
        ].tolist()
        if strict and no_effect:
            raise SettingsError(
                f"{scenarios_file}: no effect at all (plan and outcome equal the baseline): "
                f"{', '.join(no_effect)}"
            )
        if out is not None:
            _write_table(table, out)
        if json_mode:
            emit_json(
                {
                    "ok": True,
                    "out": str(out) if out else None,
                    "budget": settings.budget,
                    "diagnostics": diagnostics,
                    "rows": table.to_dict(orient="records"),
                }
            )
            return
        shown = table if by_platform else table[table["platform"] == "total"]
        title = f"what-ifs vs the baseline (budget {settings.budget:,.2f}, {settings.level} level)"
        show(frame_table(readable_comparison(shown, by_platform), title=title))
        if out is not None:
            info(f"table written to {out}")


def _write_table(table: pd.DataFrame, out: Path) -> None:
    if out.suffix.lower() == ".json":
        import json

        doc = {"rows": _jsonable(table.to_dict(orient="records"))}
        atomic_write_text(out, json.dumps(doc, indent=2) + "\n")
    else:
        atomic_write_text(out, table.to_csv(index=False))


def readable_comparison(table: pd.DataFrame, by_platform: bool) -> pd.DataFrame:
    """The columns to read first: spend, conversions, CPA and the paired change vs the baseline."""

    def rng(lo: str, hi: str, fmt: str) -> list[str]:
        return [
            "–"
            if pd.isna(a) or pd.isna(b) or abs(a) == float("inf") or abs(b) == float("inf")
            else f"{a:{fmt}}–{b:{fmt}}"
            for a, b in zip(table[lo], table[hi], strict=True)
        ]

    out = pd.DataFrame({"scenario": table["scenario"].astype(str)})
    if by_platform:
        out["platform"] = table["platform"].astype(str)
    out["spend"] = table["spend"].astype(float)
    out["conversions"] = table["conv_mean"].astype(float)
    out["conv 80% range"] = rng("conv_p10", "conv_p90", ",.1f")
    out["CPA"] = table["cpa_mean"].astype(float)
    out["Δ conversions"] = table["delta_conv_mean"].astype(float)
    out["Δ 80% range"] = rng("delta_conv_p10", "delta_conv_p90", "+,.1f")
    out["prob_better"] = table["prob_better"].astype(float)
    out["note"] = table["note"].astype(str)
    return out.reset_index(drop=True)
