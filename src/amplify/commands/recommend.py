"""``amplify recommend``: a budget plan from a fitted model or an account's data; or one per
account of a folder.

Single account: ``--model DIR`` (from ``amplify fit``) or ``--input FILE`` (fitted here) → the plan
as a table, and as CSV/JSON with ``--out``. Batch: ``--input FOLDER`` of account exports →
``<account>_plan.csv`` / ``.json`` per account plus ``summary.csv`` / ``summary.json`` in ``--out``,
accounts in parallel on local cores; a failing account is reported in the summary and does not stop
the others.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from amplify.commands.common import (
    EXIT_INTERNAL,
    EXIT_OK,
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
    err_console,
    fit_overrides,
    handle_errors,
    info,
    load_or_fit,
    parse_amounts,
    progress_bar,
    show,
    warn,
)
from amplify.pipeline import (
    AccountResult,
    RecommendSettings,
    SettingsError,
    atomic_write_text,
    load_posts,
    make_settings,
    plan_records,
    recommend,
    recommend_account,
    write_plan,
)

if TYPE_CHECKING:
    from amplify.allocate import Plan

#: File suffixes taken as account exports in a batch folder.
EXPORT_SUFFIXES = (".csv", ".tsv", ".txt")
SUMMARY_NAME = "summary"
#: Post-level plans list at most this many posts on screen (the --out file has them all).
MAX_POST_ROWS = 25


def recommend_command(
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Account data (fitted here), or a FOLDER of exports: one plan per account.",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="A model folder saved by `amplify fit`.")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", "-b", help="Total spend to allocate (account currency)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Plan file (.csv or .json); for a folder --input, the output folder.",
        ),
    ] = None,
    settings_file: SettingsOpt = None,
    min_: Annotated[
        list[str] | None,
        typer.Option(
            "--min",
            metavar="PLATFORM=AMOUNT",
            help="Platform minimum, PLATFORM=AMOUNT (repeatable).",
        ),
    ] = None,
    max_: Annotated[
        list[str] | None,
        typer.Option(
            "--max",
            metavar="PLATFORM=AMOUNT",
            help="Platform maximum, PLATFORM=AMOUNT (repeatable).",
        ),
    ] = None,
    lock: Annotated[
        list[str] | None,
        typer.Option(
            "--lock",
            metavar="PLATFORM=AMOUNT",
            help="Fixed platform spend, PLATFORM=AMOUNT (repeatable).",
        ),
    ] = None,
    max_change: Annotated[
        float | None,
        typer.Option(
            "--max-change",
            help="Largest move per platform vs --previous, as a share of the budget.",
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="Yesterday's plan file (CSV/JSON from this command)."),
    ] = None,
    target_cpa: Annotated[
        float | None, typer.Option("--target-cpa", help="Maximum cost per conversion.")
    ] = None,
    target_roas: Annotated[
        float | None, typer.Option("--target-roas", help="Minimum return on ad spend.")
    ] = None,
    level: Annotated[
        str | None,
        typer.Option("--level", help="platform (default) or post (split over candidate posts)."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy", help="thompson (default), greedy, epsilon_greedy, ucb or uniform."
        ),
    ] = None,
    n_boosts: Annotated[
        int | None,
        typer.Option("--n-boosts", min=1, help="Posts each platform's budget is spread over."),
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option("--candidates", help="Post level: the candidate posts (default: unboosted)."),
    ] = None,
    source: SourceOpt = None,
    mapping: MapOpt = None,
    method: MethodOpt = None,
    draws: DrawsOpt = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: SeedOpt = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Batch: parallel accounts (default: cores)."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Batch: exit non-zero when any account fails (default: all)."
        ),
    ] = False,
    allow_bad_fit: AllowBadFitOpt = False,
    json_mode: JsonOpt = False,
) -> None:
    """Recommend how to split a budget across platforms (or posts), with honest ranges.

    Exit codes: 0 ok, 1 internal error, 2 bad input, 3 failed convergence.
    """
    with handle_errors(json_mode):
        limits: dict[str, dict[str, float]] = {}
        for key, values, option in (
            ("min", min_, "--min"),
            ("max", max_, "--max"),
            ("lock", lock, "--lock"),
        ):
            for platform, amount in parse_amounts(values, option).items():
                limits.setdefault(platform, {})[key] = amount
        settings = make_settings(
            settings_file,
            budget=budget,
            platforms=limits or None,
            max_change=max_change,
            previous=previous,
            target_cpa=target_cpa,
            target_roas=target_roas,
            level=level,
            policy=policy,
            n_boosts=n_boosts,
            **fit_overrides(source, mapping, method, draws, tune, chains, seed),
        )
        if settings.budget is None:
            raise SettingsError(
                "budget: missing; give --budget or set `budget:` in the settings file"
            )
        if (input_path is None) == (model_dir is None):
            raise SettingsError(
                "give exactly one of --input (data or a folder of exports) and --model"
            )
        if input_path is not None and input_path.is_dir():
            if candidates is not None:
                raise SettingsError(
                    "--candidates applies to one account, not to a folder of exports"
                )
            code = run_batch(
                input_path,
                settings,
                out,
                workers=workers,
                strict=strict,
                allow_bad_fit=allow_bad_fit,
                json_mode=json_mode,
            )
            if code != EXIT_OK:
                raise typer.Exit(code)
            return
        if workers is not None or strict:
            warn("--workers and --strict only apply to a folder of exports; ignored")
        if out is not None and out.suffix.lower() not in (".csv", ".json"):
            raise SettingsError(f"--out {out}: use a .csv or .json file name")
        _single(
            input_path,
            model_dir,
            settings,
            out,
            candidates,
            allow_bad_fit=allow_bad_fit,
            json_mode=json_mode,
        )


def _single(
    input_path: Path | None,
    model_dir: Path | None,
    settings: RecommendSettings,
    out: Path | None,
    candidates_path: Path | None,
    *,
    allow_bad_fit: bool,
    json_mode: bool,
) -> None:
    model = load_or_fit(input_path, model_dir, settings, json_mode=json_mode)
    source = str(model_dir if model_dir is not None else input_path)
    diagnostics = check_fit(model, allow_bad_fit=allow_bad_fit, json_mode=json_mode)
    cands = load_posts(candidates_path, settings) if candidates_path is not None else None
    plan = recommend(model, settings, candidates=cands)
    meta = {
        "source": source,
        "settings": settings.model_dump(mode="json"),
        "diagnostics": diagnostics,
    }
    if out is not None:
        write_plan(plan, out, extra=meta)
    if json_mode:
        emit_json(
            {"ok": True, "out": str(out) if out else None, "plan": plan_records(plan), **meta}
        )
        return
    show_plan(plan, settings)
    if out is not None:
        info(f"plan written to {out}")


def show_plan(plan: Plan, settings: RecommendSettings) -> None:
    """The plan's key columns as a table on stdout (files hold them all); warnings on stderr."""
    title = (
        f"plan for a budget of {settings.budget:,.2f} ({settings.level} level, {settings.policy})"
    )
    if settings.level == "post":
        frame = plan.per_arm.reset_index()
        frame = frame[frame["spend"] > 0].sort_values("spend", ascending=False)
        key = "arm"
        if len(frame) > MAX_POST_ROWS:
            hidden = len(frame) - MAX_POST_ROWS
            frame = frame.head(MAX_POST_ROWS)
            title += f"; the top {MAX_POST_ROWS} posts shown, {hidden} more in the --out file"
    else:
        frame = plan.per_platform.reset_index()
        key = "platform"
    show(frame_table(readable_plan(frame, key), title=title))
    show(total_line(plan.total), highlight=False)
    for w in plan.warnings:
        warn(str(w))


def _range(frame: pd.DataFrame, lo: str, hi: str, fmt: str) -> list[str]:
    return [
        "–"
        if pd.isna(a) or pd.isna(b) or not (abs(a) < 1e300 and abs(b) < 1e300)
        else f"{a:{fmt}}–{b:{fmt}}"
        for a, b in zip(frame[lo], frame[hi], strict=True)
    ]


def readable_plan(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The columns a marketer reads first: spend, conversions and CPA with 80% ranges, the marginal
    CPA of the next unit of budget and the probability each row is the best place for it."""
    out = pd.DataFrame({key: frame[key].astype(str)})
    if key == "arm" and "platform" in frame:
        out["platform"] = frame["platform"].astype(str)
    out["spend"] = frame["spend"].astype(float)
    if "conv_mean" in frame:
        out["conversions"] = frame["conv_mean"].astype(float)
    if {"conv_p10", "conv_p90"} <= set(frame.columns):
        out["conv 80% range"] = _range(frame, "conv_p10", "conv_p90", ",.1f")
    if "cpa_mean" in frame:
        out["CPA"] = frame["cpa_mean"].astype(float)
    if {"cpa_p10", "cpa_p90"} <= set(frame.columns):
        out["CPA 80% range"] = _range(frame, "cpa_p10", "cpa_p90", ",.2f")
    if "marginal_cpa" in frame:
        out["marginal CPA"] = frame["marginal_cpa"].astype(float)
    if "prob_best" in frame:
        out["prob_best"] = frame["prob_best"].astype(float)
    return out.reset_index(drop=True)


def total_line(total: pd.Series) -> str:
    """One line for the whole plan: spend, conversions and CPA with their 80% ranges."""

    def get(name: str) -> float:
        v = total.get(name)
        return float("nan") if v is None else float(v)

    parts = [f"spend {get('spend'):,.2f}"]
    if "conv_mean" in total:
        parts.append(
            f"conversions {get('conv_mean'):,.1f} "
            f"(80%: {get('conv_p10'):,.1f}–{get('conv_p90'):,.1f})"
        )
    if "cpa_mean" in total:
        parts.append(
            f"CPA {get('cpa_mean'):,.2f} (80%: {get('cpa_p10'):,.2f}–{get('cpa_p90'):,.2f})"
        )
    if "roas_mean" in total:
        parts.append(f"ROAS {get('roas_mean'):,.2f}")
    return "total: " + " · ".join(parts)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if pd.isna(value):
            return "–"
        if column.startswith("prob"):
            return f"{value:.0%}"
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.2f}"
    return str(value)


def frame_table(frame: pd.DataFrame, *, title: str | None = None) -> Table:
    """A rich table of a data frame: numbers right-aligned with thousands separators."""
    table = Table(
        title=title, title_justify="left", header_style="bold", min_width=len(title or "")
    )
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(
            frame[col]
        )
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[
                _cell(v.item() if hasattr(v, "item") else v, str(c))
                for v, c in zip(row, frame.columns, strict=True)
            ]
        )
    return table


# --- batch
# -----------------------------------------------------------------------------------------


def find_exports(folder: Path) -> list[Path]:
    """The account exports in a folder (not recursive; skips hidden files, plans, summaries)."""
    files = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file()
        and p.suffix.lower() in EXPORT_SUFFIXES
        and not p.name.startswith(".")
        and p.stem != SUMMARY_NAME
        and not p.stem.endswith("_plan")
    ]
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise SettingsError(
                f"--input {folder}: {stems[p.stem].name} and {p.name} would both be "
                f"account {p.stem!r}; "
                "rename one"
            )
        stems[p.stem] = p
    return files


def batch_exit_code(results: Sequence[AccountResult], *, strict: bool) -> int:
    """0 while any account succeeded (``strict``: while all did); otherwise the failures' exit code
    when they share one (2 bad input, 3 bad fit), else 1."""
    failed = [r for r in results if not r.ok]
    if not failed or (not strict and len(failed) < len(results)):
        return EXIT_OK
    codes = {r.exit_code for r in failed}
    return codes.pop() if len(codes) == 1 else EXIT_INTERNAL


def run_batch(
    folder: Path,
    settings: RecommendSettings,
    out: Path | None,
    *,
    workers: int | None,
    strict: bool,
    allow_bad_fit: bool,
    json_mode: bool,
) -> int:
    """Plan every account of ``folder`` into ``out``; returns the exit code."""
    if out is None:
        raise SettingsError("--out: a folder of exports needs an output folder, e.g. --out plans/")
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {out}: exists and is not a folder")
    exports = find_exports(folder)
    if not exports:
        raise SettingsError(
            f"--input {folder}: no account exports ({', '.join(EXPORT_SUFFIXES)} files) found"
        )
    out.mkdir(parents=True, exist_ok=True)
    n_workers = max(1, min(workers or (os.cpu_count() or 1), len(exports)))
    if not json_mode:
        info(f"{len(exports)} accounts, {n_workers} worker{'s' if n_workers > 1 else ''}")
    results = _run_accounts(
        exports, settings, out, n_workers, allow_bad_fit=allow_bad_fit, json_mode=json_mode
    )
    rows = [r.to_row() | {"exit_code": r.exit_code} for r in results]
    frame = pd.DataFrame(rows)
    summary_csv = atomic_write_text(out / f"{SUMMARY_NAME}.csv", frame.to_csv(index=False))
    failed = [r for r in results if not r.ok]
    code = batch_exit_code(results, strict=strict)
    doc = {
        "ok": code == EXIT_OK,
        "exit_code": code,
        "accounts": len(results),
        "succeeded": len(results) - len(failed),
        "failed": len(failed),
        "out": str(out),
        "summary_csv": str(summary_csv),
        "summary_json": str(out / f"{SUMMARY_NAME}.json"),
        "results": rows,
    }
    import json

    from amplify.pipeline import _jsonable

    atomic_write_text(out / f"{SUMMARY_NAME}.json", json.dumps(_jsonable(doc), indent=2) + "\n")
    if json_mode:
        emit_json(doc)
    else:
        shown = frame[
            [
                c
                for c in ("account", "status", "spend", "conversions", "cpa", "seconds", "message")
                if c in frame
            ]
        ]
        show(frame_table(shown, title=f"{len(results)} accounts → {out}"))
        info(f"{len(results) - len(failed)} ok, {len(failed)} failed; summary in {summary_csv}")
    return code


def _run_accounts(
    exports: list[Path],
    settings: RecommendSettings,
    out: Path,
    n_workers: int,
    *,
    allow_bad_fit: bool,
    json_mode: bool,
) -> list[AccountResult]:
    results: dict[Path, AccountResult] = {}
    with progress_bar("accounts", json_mode=json_mode, total=len(exports)) as bar:
        task = bar.task_ids[0]
        if n_workers == 1:
            for path in exports:
                bar.update(task, description=path.stem)
                results[path] = recommend_account(path, settings, out, allow_bad_fit=allow_bad_fit)
                bar.advance(task)
        else:
            # "spawn": each worker starts a clean interpreter (forking a process that has started
            # sampler threads can deadlock).
            with ProcessPoolExecutor(
                max_workers=n_workers, mp_context=get_context("spawn")
            ) as pool:
                futures: dict[Future[AccountResult], Path] = {
                    pool.submit(
                        recommend_account, path, settings, out, allow_bad_fit=allow_bad_fit
                    ): path
                    for path in exports
                }
                for fut in as_completed(futures):
                    path = futures[fut]
                    try:
                        results[path] = fut.result()
                    except Exception as err:  # the worker died (out of memory, killed, ...)
                        results[path] = AccountResult(
                            account=path.stem,
                            export=str(path),
                            status="error",
                            message=f"worker failed: {type(err).__name__}: {err}",
                            budget=settings.budget,
                        )
                    bar.advance(task)
    err_console.file.flush()
    return [results[p] for p in exports]
