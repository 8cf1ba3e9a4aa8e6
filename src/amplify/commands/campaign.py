"""``amplify campaign``: run or resume the online loop (plan → outcomes → update) over a ledger.

Simulated (``--simulate``): every round is decided, played on a simulated world and committed to the
SQLite ledger in one transaction; rerunning the same command after a crash continues from the last
committed round and ends where an uninterrupted run ends. Real: ``--record FILE --round N`` stores a
day's results, then the next round is planned and committed (run it once a day).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from amplify.commands.common import (
    JsonOpt,
    emit_json,
    handle_errors,
    info,
    progress_bar,
    show,
)
from amplify.pipeline import SettingsError, atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from amplify.learn import LearnerConfig


def committed_rounds(ledger: Path, name: str) -> int:
    """Rounds committed to campaign ``name`` of ``ledger`` (0 for a new ledger or campaign)."""
    from amplify.ledger import Ledger, LedgerError

    if not ledger.is_file():
        return 0
    with Ledger(ledger) as led:
        try:
            return led.last_round(led.run_id(name)) + 1
        except LedgerError:
            return 0


def campaign_command(
    ledger: Annotated[
        Path, typer.Option("--ledger", "-l", help="The campaign's SQLite ledger file.")
    ],
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Play the rounds on a simulated world (a backtest).")
    ] = False,
    rounds: Annotated[
        int, typer.Option("--rounds", "-r", min=1, help="Simulated: total rounds (days) to reach.")
    ] = 30,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seeds the world and the policy.")] = 0,
    budget: Annotated[
        float | None, typer.Option("--budget", "-b", help="Daily budget (simulated default: 3000).")
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="thompson, greedy, epsilon_greedy, ucb, uniform (or oracle, simulated).",
        ),
    ] = "thompson",
    variant: Annotated[
        str,
        typer.Option(
            "--variant", help="Simulated world: stationary, mild_change, severe_change or drift."
        ),
    ] = "stationary",
    posts: Annotated[
        int | None,
        typer.Option("--posts", min=2, help="Simulated: post-level arms instead of platforms."),
    ] = None,
    history_days: Annotated[
        int,
        typer.Option(
            "--history-days", min=0, help="Simulated: pre-period days given to the learner."
        ),
    ] = 0,
    arms: Annotated[
        str | None,
        typer.Option(
            "--arms", help="Real: comma-separated arms (default facebook,instagram,tiktok)."
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help=(
                "Real: CSV of a day's results: arm, spend, conversions, and optionally impressions "
                "(paid impressions teach the learner each arm's curve shape), clicks, age."
            ),
        ),
    ] = None,
    round_: Annotated[
        int | None,
        typer.Option("--round", min=0, help="Real: the round (day) --record belongs to."),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help=(
                "Real: CSV of the days before the campaign (day -N..-1, arm or platform, spend, "
                "conversions, and optionally impressions, clicks): the learner starts from them. "
                "Given when the campaign starts; the ledger keeps it."
            ),
        ),
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan/--no-plan", help="Real: plan and commit the next round.")
    ] = True,
    name: Annotated[
        str, typer.Option("--name", help="Campaign name inside the ledger.")
    ] = "default",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write every round (per arm) to this CSV file."),
    ] = None,
    track_drift: Annotated[
        bool,
        typer.Option(
            "--track-drift",
            help=(
                "Let every arm's conversion level drift, posts' too (creative fatigue, auctions, "
                "seasons): old days count less where the data say so. By default only a "
                "platform that is one arm is tracked; a campaign keeps the setting it was "
                "started with."
            ),
        ),
    ] = False,
    static_levels: Annotated[
        bool,
        typer.Option(
            "--static-levels",
            help="Keep every arm's conversion level static (every day counts the same).",
        ),
    ] = False,
    json_mode: JsonOpt = False,
) -> None:
    """Run or resume the online campaign loop; every round is committed to the ledger.

    Example: amplify campaign --ledger run.db --simulate --rounds 30 --seed 7
    """
    with handle_errors(json_mode):
        from amplify.campaign import POLICY_NAMES

        if policy not in POLICY_NAMES:
            raise SettingsError(f"--policy {policy!r}: use one of {', '.join(POLICY_NAMES)}")
        if out is not None and out.suffix.lower() != ".csv":
            raise SettingsError(f"--out {out}: use a .csv file name")
        if ledger.exists() and ledger.is_dir():
            raise SettingsError(f"--ledger {ledger}: is a folder; give a file name such as run.db")
        from amplify.learn import LearnerConfig

        if track_drift and static_levels:
            raise SettingsError("--track-drift and --static-levels: give one of them")
        learner = (
            LearnerConfig.tracking_drift()
            if track_drift
            else LearnerConfig.static()
            if static_levels
            else None
        )
        if simulate:
            if record is not None or round_ is not None or history is not None:
                raise SettingsError(
                    "--record/--round/--history are for real campaigns; drop --simulate (a "
                    "simulated campaign takes --history-days)"
                )
            doc = _simulated(
                ledger,
                rounds=rounds,
                seed=seed,
                budget=3000.0 if budget is None else budget,
                policy=policy,
                variant=variant,
                posts=posts,
                history_days=history_days,
                name=name,
                out=out,
                json_mode=json_mode,
                learner=learner,
            )
        else:
            doc = _real(
                ledger,
                seed=seed,
                budget=budget,
                policy=policy,
                arms=arms,
                record=record,
                round_=round_,
                history=history,
                plan=plan,
                name=name,
                out=out,
                json_mode=json_mode,
                learner=learner,
            )
        if json_mode:
            emit_json(doc)


def _simulated(
    ledger: Path,
    *,
    rounds: int,
    seed: int,
    budget: float,
    policy: str,
    variant: str,
    posts: int | None,
    history_days: int,
    name: str,
    out: Path | None,
    json_mode: bool,
    learner: LearnerConfig | None,
) -> dict[str, Any]:
    from amplify.campaign import run_simulated
    from amplify.simulate import VARIANTS

    if variant not in VARIANTS:
        raise SettingsError(f"--variant {variant!r}: use one of {', '.join(VARIANTS)}")
    done_before = committed_rounds(ledger, name)
    if not json_mode:
        if done_before >= rounds:
            info(f"{ledger}: all {rounds} rounds already committed; reading the results")
        elif done_before:
            info(f"{ledger}: resuming after round {done_before} of {rounds}")
    with progress_bar("rounds", json_mode=json_mode, total=rounds) as bar:
        task = bar.task_ids[0]
        bar.update(task, completed=done_before)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_simulated(
            ledger,
            rounds=rounds,
            seed=seed,
            variant=variant,
            policy=policy,
            n_posts=posts,
            budget=budget,
            history_days=history_days,
            name=name,
            progress=tick,
            learner=learner,
        )
    table = result.table
    if out is not None:
        atomic_write_text(out, table.to_csv(index=False))
    doc: dict[str, Any] = {
        "ok": True,
        "ledger": str(ledger),
        "campaign": name,
        "resumed_from_round": done_before,
        "rounds": int(table["round"].nunique()) if len(table) else 0,
        "summary": result.summary,
        "out": str(out) if out is not None else None,
    }
    if not json_mode:
        _show_summary(
            result.summary, title=f"campaign {name!r} in {ledger} ({policy}, seed {seed})"
        )
    return doc


def _real(
    ledger: Path,
    *,
    seed: int,
    budget: float | None,
    policy: str,
    arms: str | None,
    record: Path | None,
    round_: int | None,
    history: Path | None,
    plan: bool,
    name: str,
    out: Path | None,
    json_mode: bool,
    learner: LearnerConfig | None,
) -> dict[str, Any]:
    import pandas as pd

    from amplify import constants as C
    from amplify.campaign import Campaign, history_rows, record_outcomes

    if policy == "oracle":
        raise SettingsError("--policy oracle needs a simulated world (--simulate)")
    if budget is None:
        raise SettingsError("--budget: a real campaign needs its daily budget (the same every day)")
    if (record is None) != (round_ is None):
        raise SettingsError("--record FILE and --round N go together")
    arm_names = tuple(a.strip() for a in (arms or ",".join(C.PLATFORMS)).split(",") if a.strip())
    if len(arm_names) < 2:
        raise SettingsError(f"--arms {arms!r}: give at least two arms, comma-separated")
    pre = (
        None
        if history is None
        else history_rows(_read_table(history), arm_names, file=str(history))
    )
    camp = Campaign(
        ledger,
        arms=arm_names,
        constraints=budget,
        policy=policy,
        seed=seed,
        name=name,
        learner=learner,
        history=pre,
    )
    doc: dict[str, Any] = {"ok": True, "ledger": str(ledger), "campaign": name}
    if pre is not None:
        doc["history"] = {"rows": len(pre), "file": str(history)}
        if not json_mode:
            info(f"read {len(pre)} results of the days before the campaign from {history}")
    if record is not None:
        n = record_outcomes(
            ledger,
            int(round_ or 0),
            _read_table(record),
            name=name,
            source=str(record),
            file=str(record),
        )
        doc["recorded"] = {"round": round_, "rows": n, "file": str(record)}
        if not json_mode:
            info(f"recorded {n} results of round {round_} from {record}")
    if plan:
        nxt = camp.plan_next()
        doc["plan"] = nxt
        spend = nxt["spend"]
        exp = nxt.get("expected_conversions", {})
        frame = pd.DataFrame(
            {
                "arm": list(spend),
                "spend": [spend[a] for a in spend],
                "expected_conversions": [exp.get(a) for a in spend],
            }
        )
        from amplify.commands.recommend import frame_table

        if not json_mode:
            show(frame_table(frame, title=f"round {nxt['round']} plan ({policy})"))
    result = camp.results()
    doc["summary"] = result.summary
    if out is not None:
        atomic_write_text(out, result.table.to_csv(index=False))
        doc["out"] = str(out)
    return doc


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV file's table, numbers as numbers, indexed by the file's row numbers (header: 1), so
    that problems with its values name the row as the user sees it."""
    import pandas as pd

    from amplify.data.readers import read_csv

    table = read_csv(path)  # DataError (file, row) for files that are not CSV
    frame = table.frame.set_axis(table.rows, axis=0)
    for col in frame.columns:
        if col not in ("arm", "platform"):
            # a non-number stays text: the reader of the table names its row and column
            with contextlib.suppress(TypeError, ValueError):
                frame[col] = pd.to_numeric(frame[col])
    return frame


def _show_summary(summary: dict[str, float], *, title: str) -> None:
    from rich.table import Table

    show(title, highlight=False)
    table = Table(header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        whole = key == "rounds" or (float(value).is_integer() and key.startswith("conversions"))
        table.add_row(key, f"{value:,.0f}" if whole else f"{value:,.1f}")
    show(table)
