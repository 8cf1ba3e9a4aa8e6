"""``amplify fit``: an account's post table → a saved, fitted model folder (NetCDF + JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    fit_with_progress,
    handle_errors,
    info,
)
from amplify.pipeline import atomic_write_dir, load_posts, make_settings


def fit_command(
    data: Annotated[Path, typer.Argument(help="Post table or ad-platform export (CSV).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to save the fitted model in.")],
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
    """Fit the boost model to an account's history and save it (reuse it with `recommend --model`).

    Exits 3 and writes nothing when the sampler's diagnostics are not ok, unless --allow-bad-fit.
    """
    with handle_errors(json_mode):
        settings = make_settings(
            settings_file, **fit_overrides(source, mapping, method, draws, tune, chains, seed)
        )
        posts = load_posts(data, settings)
        model = fit_with_progress(posts, settings, json_mode=json_mode)
        diagnostics = check_fit(model, allow_bad_fit=allow_bad_fit, json_mode=json_mode)

        def save(tmp: Path) -> None:
            model.save(tmp)

        atomic_write_dir(out, save)
        doc: dict[str, Any] = {
            "ok": True,
            "model": str(out),
            "posts": len(posts),
            "platforms": list(getattr(model, "platforms_", [])),
            "method": settings.sampler.method,
            "seed": settings.seed,
            "diagnostics": diagnostics,
        }
        if json_mode:
            emit_json(doc)
            return
        rhat = diagnostics.get("max_rhat")
        ess = diagnostics.get("min_ess_bulk")
        info(
            f"fitted {len(posts)} posts on {', '.join(doc['platforms'])} "
            f"({settings.sampler.method}; max r_hat {_fmt(rhat)}, min ESS {_fmt(ess, 0)}, "
            f"divergences {diagnostics.get('divergences', 'n/a')}); saved to {out}"
        )


def _fmt(x: Any, digits: int = 3) -> str:
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return "n/a"
