"""What every ``amplify`` verb shares: exit codes, error reporting, ``--json`` output, progress
bars.

Exit codes scripts can rely on:

==== ==========================================================================================
code meaning
==== ==========================================================================================
0    success
1    internal error (a bug: please report it; ``AMPLIFY_DEBUG=1`` shows the traceback)
2    bad input: a data file, settings file, flag or constraint that cannot be used
3    failed convergence: the sampler's diagnostics are not ok (``--allow-bad-fit`` accepts it)
==== ==========================================================================================

Human output goes to the terminal through rich (messages and progress on stderr, tables on stdout);
with ``--json`` stdout carries exactly one JSON document, also on failure (``{"ok": false, ...}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from amplify.errors import AmplifyError, DataError
from amplify.pipeline import (
    RecommendSettings,
    SettingsError,
    _jsonable,
    fit,
    fit_problems,
    load_posts,
)

if TYPE_CHECKING:
    import pandas as pd

    from amplify.model import BoostModel

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_BAD_FIT = 3

#: Exit code of each kind of failure, by the name used in ``--json`` output.
EXIT_CODES: dict[str, int] = {
    "ok": EXIT_OK,
    "error": EXIT_INTERNAL,
    "bad_input": EXIT_BAD_INPUT,
    "bad_fit": EXIT_BAD_FIT,
}

#: Messages, warnings and progress (stderr), so stdout stays clean for tables and JSON.
err_console = Console(stderr=True)
#: Tables and results.
out_console = Console()


#: Width of tables written to a pipe or file (a terminal's own width is used on a terminal).
PIPE_WIDTH = 200


def show(renderable: Any, **kwargs: Any) -> None:
    """Print a table or line on stdout; piped output is not squeezed into 80 columns."""
    console = out_console if out_console.is_terminal else Console(width=PIPE_WIDTH)
    console.print(renderable, **kwargs)


class BadFit(AmplifyError):
    """The sampler's diagnostics are not ok; the result was not written (exit code 3)."""


# --- shared options ----------------------------------------------------------------------------

JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON document on stdout (for scripts) instead of tables."
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed", min=0, help="Seed of every random choice (same inputs + seed → same output)."
    ),
]
SettingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--settings", help="YAML/JSON settings file; flags given on the command line override it."
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", help="Export format: auto (default), generic, meta, meta_organic or tiktok."
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="COLUMN=HEADER",
        help="Column mapping, canonical column = file header (repeatable), e.g. spend=Spent.",
    ),
]
MethodOpt = Annotated[
    str | None,
    typer.Option("--method", help="Posterior approximation: nuts (default), advi or pathfinder."),
]
DrawsOpt = Annotated[int | None, typer.Option("--draws", min=10, help="Posterior draws per chain.")]
TuneOpt = Annotated[
    int | None, typer.Option("--tune", min=0, help="Tuning steps per chain (NUTS).")
]
ChainsOpt = Annotated[int | None, typer.Option("--chains", min=1, help="Number of chains (NUTS).")]
AllowBadFitOpt = Annotated[
    bool,
    typer.Option(
        "--allow-bad-fit",
        help="Keep going when the sampler's diagnostics are not ok (exit 0, warns).",
    ),
]


def parse_pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` → ``{"a": "1", "b": "2"}``; a malformed pair is a SettingsError."""
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(
                f"{option} {item!r}: expected KEY=VALUE, e.g. {option} facebook=500"
            )
        out[key.strip()] = value.strip()
    return out


def parse_amounts(values: Sequence[str] | None, option: str) -> dict[str, float]:
    """``["facebook=500"]`` → ``{"facebook": 500.0}`` with a clear error for a non-number."""
    out: dict[str, float] = {}
    for key, value in parse_pairs(values, option).items():
        try:
            out[key] = float(value.replace(",", ""))
        except ValueError:
            raise SettingsError(f"{option} {key}={value}: {value!r} is not a number") from None
    return out


def sampler_overrides(
    method: str | None, draws: int | None, tune: int | None, chains: int | None
) -> dict[str, Any] | None:
    """The ``sampler`` override mapping of the sampler flags (None when no flag was given)."""
    given = {"method": method, "draws": draws, "tune": tune, "chains": chains}
    given = {k: v for k, v in given.items() if v is not None}
    return given or None


def fit_overrides(
    source: str | None,
    mapping: Sequence[str] | None,
    method: str | None,
    draws: int | None,
    tune: int | None,
    chains: int | None,
    seed: int | None,
) -> dict[str, Any]:
    """The settings overrides of the data and fitting flags every fitting verb takes
    (``--source --map --method --draws --tune --chains --seed``)."""
    return {
        "source": source,
        "columns": parse_pairs(mapping, "--map") or None,
        "sampler": sampler_overrides(method, draws, tune, chains),
        "seed": seed,
    }


# --- output ------------------------------------------------------------------------------------


def emit_json(doc: Mapping[str, Any]) -> None:
    """Print one JSON document on stdout (NaN/inf → null, numpy → Python)."""
    sys.stdout.write(json.dumps(_jsonable(dict(doc)), indent=2) + "\n")
    sys.stdout.flush()


def warn(message: str, *, json_mode: bool = False) -> None:
    """A warning on stderr (kept out of stdout, so ``--json`` output stays parseable)."""
    err_console.print(
        f"[yellow]warning:[/] {message}", markup=True, highlight=False, soft_wrap=True
    )


def info(message: str) -> None:
    """A plain progress note on stderr."""
    err_console.print(message, highlight=False, soft_wrap=True)


def fail(
    kind: str, message: str, *, json_mode: bool, extra: Mapping[str, Any] | None = None
) -> NoReturn:
    """Report a failure (stderr, or the JSON document on stdout) and exit with its code."""
    code = EXIT_CODES[kind]
    if json_mode:
        emit_json(
            {"ok": False, "exit_code": code, "error": kind, "message": message, **(extra or {})}
        )
    else:
        label = {
            "bad_input": "error",
            "bad_fit": "failed convergence",
            "error": "internal error",
        }.get(kind, "error")
        err_console.print(f"[bold red]{label}:[/] ", end="", markup=True, highlight=False)
        err_console.print(message, markup=False, highlight=False, soft_wrap=True)
        if kind == "error":
            err_console.print(
                "This is a bug in amplify; rerun with AMPLIFY_DEBUG=1 for the traceback "
                "and report it.",
                highlight=False,
            )
    raise typer.Exit(code)


def bad_input_types() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the user's input cannot be used" (exit code 2).

    Every error amplify raises on purpose (:class:`~amplify.errors.AmplifyError`: bad data,
    settings,
    constraints, scenarios) is about the input; :class:`BadFit` is caught before them.
    """
    return (AmplifyError, SettingsError)


@contextlib.contextmanager
def handle_errors(json_mode: bool) -> Iterator[None]:
    """Turn exceptions into the documented exit codes and messages (no traceback for bad input)."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except BadFit as err:
        fail("bad_fit", str(err), json_mode=json_mode)
    except bad_input_types() as err:
        extra: dict[str, Any] = {}
        if isinstance(err, DataError):
            extra["problems"] = [p.to_dict() for p in err.problems]
        fail("bad_input", str(err), json_mode=json_mode, extra=extra)
    except FileNotFoundError as err:
        fail("bad_input", f"{err.filename or err}: file not found", json_mode=json_mode)
    except Exception as err:  # an internal error: exit 1 with a short message
        if os.environ.get("AMPLIFY_DEBUG"):
            traceback.print_exc()
        fail("error", f"{type(err).__name__}: {err}", json_mode=json_mode)


def check_fit(model: Any, *, allow_bad_fit: bool, json_mode: bool) -> dict[str, Any]:
    """The fit's diagnostics as a dict; raises :class:`BadFit` when they show a failed fit.

    An approximate fit (ADVI) is not a failure: its warning is shown and work goes on.
    """
    doc = _diagnostics_dict(model.diagnostics_)
    problems = fit_problems(doc)
    if problems:
        detail = "; ".join(problems)
        if not allow_bad_fit:
            raise BadFit(
                f"the fit is not trustworthy: {detail}. Nothing was written; refit with more "
                "--tune/--draws, or pass --allow-bad-fit to use it anyway."
            )
        warn(f"using a fit whose diagnostics are not ok: {detail}", json_mode=json_mode)
    else:  # e.g. the label of an approximate fit
        for w in doc.get("warnings") or []:
            warn(str(w), json_mode=json_mode)
    return doc


def _diagnostics_dict(diag: Any) -> dict[str, Any]:
    if hasattr(diag, "model_dump"):
        return dict(diag.model_dump())
    if hasattr(diag, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(diag)
    if isinstance(diag, Mapping):
        return dict(diag)
    return {"ok": bool(getattr(diag, "ok", False))}


def fit_with_progress(
    posts: pd.DataFrame, settings: RecommendSettings, *, json_mode: bool
) -> BoostModel:
    """Fit the model to ``posts`` behind a "fitting" progress bar."""
    with progress_bar("fitting", json_mode=json_mode) as bar:
        return fit(posts, settings, progress=stage_callback(bar))


def load_or_fit(
    input_path: Path | None,
    model_dir: Path | None,
    settings: RecommendSettings,
    *,
    json_mode: bool,
) -> BoostModel:
    """The model saved in ``model_dir`` (by ``amplify fit``), else one fitted here to the account
    data in ``input_path`` (exactly one of them is given)."""
    if model_dir is not None:
        from amplify.model import BoostModel

        if not model_dir.is_dir():
            raise SettingsError(
                f"--model {model_dir}: not a folder (save one with `amplify fit DATA --out DIR`)"
            )
        return BoostModel.load(model_dir)
    assert input_path is not None
    return fit_with_progress(load_posts(input_path, settings), settings, json_mode=json_mode)


# --- progress ----------------------------------------------------------------------------------


@contextlib.contextmanager
def progress_bar(description: str, *, json_mode: bool, total: float = 1.0) -> Iterator[Progress]:
    """A rich progress bar on stderr (hidden with ``--json`` or when stderr is not a terminal)."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=json_mode or not err_console.is_terminal,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress


def stage_callback(progress: Progress) -> Callable[[str, float], None]:
    """A ``progress(stage, fraction)`` callback (as :meth:`BoostModel.fit` takes) driving task 0."""
    task = progress.task_ids[0]

    def update(stage: str, fraction: float) -> None:
        progress.update(task, description=stage, completed=max(0.0, min(1.0, float(fraction))))

    return update
