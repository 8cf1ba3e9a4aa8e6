"""``amplify simulate``: write a simulated account (a post table with a known truth) to CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from amplify.commands.common import JsonOpt, emit_json, handle_errors, info
from amplify.pipeline import SettingsError, atomic_write_text


def simulate_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write (the post table).")],
    posts: Annotated[int, typer.Option("--posts", "-n", min=1, help="Number of posts.")] = 300,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed: same seed → same account.")] = 0,
    boosted_share: Annotated[
        float,
        typer.Option("--boosted-share", min=0.0, max=1.0, help="Share of posts that were boosted."),
    ] = 0.35,
    days: Annotated[
        int, typer.Option("--days", min=1, help="Days the posts are spread over.")
    ] = 180,
    start: Annotated[
        str, typer.Option("--start", help="Date of the first day (YYYY-MM-DD).")
    ] = "2026-01-01",
    organic_missing: Annotated[
        float,
        typer.Option(
            "--organic-missing", min=0.0, max=1.0, help="Share of rows without organic metrics."
        ),
    ] = 0.0,
    random_truth: Annotated[
        bool,
        typer.Option(
            "--random-truth",
            help="Jitter the published-figure truth with --seed (a different world per seed).",
        ),
    ] = False,
    truth_out: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="Also write the true parameters (and each post's latent truth) as JSON."
        ),
    ] = None,
    json_mode: JsonOpt = False,
) -> None:
    """Write a simulated account: posts on the three platforms, some boosted, with a known truth."""
    with handle_errors(json_mode):
        import pandas as pd

        from amplify.simulate import World, default_truth

        if out.suffix.lower() != ".csv":
            raise SettingsError(f"--out {out}: use a .csv file name")
        try:
            start_day = pd.Timestamp(start)
        except ValueError:
            raise SettingsError(f"--start {start!r}: not a date; use YYYY-MM-DD") from None
        truth = default_truth(seed) if random_truth else default_truth()
        world = World(truth, seed=seed)
        table = world.posts(
            posts,
            boosted_share=boosted_share,
            start=str(start_day.date()),
            days=days,
            organic_missing_share=organic_missing,
        )
        written = [str(atomic_write_text(out, table.to_csv(index=False)))]
        if truth_out is not None:
            post_truth = world.post_truth()
            doc = {
                "seed": seed,
                "truth": truth.to_dict(),
                "posts": json.loads(post_truth.to_json(orient="records")),
            }
            written.append(str(atomic_write_text(truth_out, json.dumps(doc, indent=2) + "\n")))
        boosted = int((table["spend"] > 0).sum())
        per_platform = {
            str(k): int(v) for k, v in table["platform"].value_counts().sort_index().items()
        }
        summary: dict[str, Any] = {
            "ok": True,
            "out": written[0],
            "truth": written[1] if truth_out is not None else None,
            "posts": len(table),
            "boosted": boosted,
            "platforms": per_platform,
            "seed": seed,
        }
        if json_mode:
            emit_json(summary)
        else:
            per = ", ".join(f"{k} {v}" for k, v in per_platform.items())
            info(f"wrote {len(table)} posts ({boosted} boosted; {per}) to {written[0]}")
            if truth_out is not None:
                info(f"wrote the true parameters to {written[1]}")
