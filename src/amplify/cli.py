"""The ``amplify`` command line: thin verbs over the library.

* ``amplify validate FILE`` checks an export and prints every problem (row, column, what is wrong,
  how to fix it) or a short summary of a clean file. Exit status 0 when the file can be used, 2 when
  it cannot, 1 on an unexpected failure; never a traceback.
* ``amplify app [streamlit args...]`` opens the Streamlit app (``streamlit run <repo>/app.py``).
* ``amplify fit``, ``recommend``, ``scenario``, ``simulate`` and ``campaign`` live in
  :mod:`amplify.commands` (one module per verb) and are registered here.

Exit codes shared by every verb: 0 ok, 1 internal error, 2 bad input, 3 the fit did not converge.
"""

from __future__ import annotations

import json
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from amplify import constants as C
from amplify.commands.campaign import campaign_command
from amplify.commands.fit import fit_command
from amplify.commands.recommend import recommend_command
from amplify.commands.scenario import scenario_command
from amplify.commands.simulate import simulate_command
from amplify.errors import DataError, Problem

app = typer.Typer(
    name="amplify",
    help=(
        "Where to put your paid boost budget: validate exports, fit the boost model, recommend"
        " budgets (one account or a folder of them), compare what-ifs, simulate accounts, run the"
        " online campaign loop, open the app. Exit codes: 0 ok, 1 internal error, 2 bad input,"
        " 3 the fit did not converge."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The Streamlit script ``amplify app`` runs: app.py at the repository root.
APP_PATH = Path(__file__).resolve().parents[2] / "app.py"

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2


class SourceChoice(StrEnum):
    """Importers selectable with ``--source``."""

    auto = "auto"
    generic = "generic"
    meta = "meta"
    meta_organic = "meta_organic"
    tiktok = "tiktok"


def _pairs(
    values: list[str] | None, option: str, file: str
) -> tuple[dict[str, str], list[Problem]]:
    """Parse repeated ``name=value`` options."""
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            problems.append(
                Problem(
                    file,
                    None,
                    None,
                    f"{option} '{item}' is not of the form column=value",
                    f"write it like {option} spend='Amount spent (USD)'",
                )
            )
            continue
        out[name.strip()] = value.strip()
    return out, problems


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """A short JSON-ready description of a loaded post table."""
    dates = table[C.POSTED_AT].dropna()
    return {
        "rows": len(table),
        "platforms": {str(k): int(v) for k, v in table[C.PLATFORM].value_counts().items()},
        "boosted": int(table[C.BOOSTED].sum()),
        "date_range": [str(dates.min().date()), str(dates.max().date())] if len(dates) else None,
        "organic_columns": [c for c in C.ORGANIC_COLUMNS if table[c].notna().any()],
        "paid_columns": [c for c in C.PAID_COLUMNS if table[c].notna().any()],
        "extra_columns": [str(c) for c in table.columns[len(C.CANONICAL_COLUMNS) :]],
        "source": table.attrs.get("source"),
    }


def _problem_table(title: str, problems: list[Problem] | tuple[Problem, ...], style: str) -> Table:
    table = Table(title=title, title_style=style, show_lines=False, expand=False)
    table.add_column("row", justify="right", no_wrap=True)
    table.add_column("column", overflow="fold")
    table.add_column("problem", overflow="fold")
    table.add_column("fix", overflow="fold")
    for p in problems:
        table.add_row("" if p.row is None else str(p.row), p.column or "", p.message, p.fix)
    return table


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The CSV export to check.", show_default=False)],
    source: Annotated[
        SourceChoice,
        typer.Option("--source", "-s", help="Which export it is; auto guesses from the header."),
    ] = SourceChoice.auto,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="Canonical column = file header, e.g. --map spend=Spent (repeatable).",
            metavar="COLUMN=HEADER",
            show_default=False,
        ),
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option(
            "--default",
            "-d",
            help="Value for a column missing from the file, e.g. --default platform=facebook.",
            metavar="COLUMN=VALUE",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check an export file and list every problem, or summarise it when it is clean."""
    name = str(file)
    try:
        from amplify.data import load

        mapped, bad_map = _pairs(mapping, "--map", name)
        defaults, bad_default = _pairs(default, "--default", name)
        if bad_map or bad_default:
            raise DataError(bad_map + bad_default)
        table = load(file, source=source.value, mapping=mapped, defaults=defaults)
    except DataError as err:
        if as_json:
            _print_json(
                {
                    "file": name,
                    "ok": False,
                    "problems": [p.to_dict() for p in err.problems],
                    "warnings": [p.to_dict() for p in err.warnings],
                    "summary": None,
                }
            )
        else:
            console = Console()
            n = len(err.problems)
            console.print(
                _problem_table(
                    f"{n} {'problem' if n == 1 else 'problems'} in {name}", err.problems, "bold red"
                )
            )
            if err.warnings:
                console.print(_problem_table("warnings", err.warnings, "yellow"))
            console.print(f"[red]{name} cannot be used until these are fixed.[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # never a traceback for the user
        typer.echo(f"amplify validate: unexpected error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_UNEXPECTED) from None

    summary = summarise(table)
    warnings: list[Problem] = list(table.attrs.get("warnings", []))
    if as_json:
        _print_json(
            {
                "file": name,
                "ok": True,
                "problems": [],
                "warnings": [p.to_dict() for p in warnings],
                "summary": summary,
            }
        )
        return
    console = Console()
    platforms = ", ".join(f"{k} {v}" for k, v in summary["platforms"].items())
    dates = " to ".join(summary["date_range"]) if summary["date_range"] else "no dates"
    organic = ", ".join(summary["organic_columns"]) or "none"
    paid = ", ".join(summary["paid_columns"]) or "none"
    console.print(f"[green]OK[/green] {name} ({summary['source']} export)")
    console.print(f"  rows: {summary['rows']} ({platforms})")
    console.print(f"  boosted: {summary['boosted']}")
    console.print(f"  dates: {dates}")
    console.print(f"  organic columns: {organic}")
    console.print(f"  paid columns: {paid}")
    if summary["extra_columns"]:
        console.print(f"  extra columns kept: {len(summary['extra_columns'])}")
    if warnings:
        console.print(_problem_table(f"{len(warnings)} warnings", warnings, "yellow"))


def streamlit_command(args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command ``amplify app`` runs: ``python -m streamlit run <repo>/app.py [args...]``."""
    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH), *args]


@app.command(
    "app",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run_app(ctx: typer.Context) -> None:
    """Open the amplify app in the browser (extra arguments go to 'streamlit run')."""
    if not APP_PATH.exists():
        typer.echo(
            f"amplify app: {APP_PATH} not found; run this from a clone of the amplify repository",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        code = subprocess.call(streamlit_command(list(ctx.args)))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


# Verbs whose code lives in amplify.commands (one module per verb).
app.command("fit")(fit_command)
app.command("recommend")(recommend_command)
app.command("scenario")(scenario_command)
app.command("simulate")(simulate_command)
app.command("campaign")(campaign_command)


def main() -> None:
    """Entry point of the ``amplify`` console script."""
    app()


if __name__ == "__main__":
    main()
