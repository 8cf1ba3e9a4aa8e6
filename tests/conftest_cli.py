"""Helpers for the CLI tests (imported explicitly): invoking `amplify`, small simulated accounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

#: A fast fit for tests where the model itself is not under test (ADVI, few iterations).
FAST_SAMPLER = {"method": "advi", "draws": 200, "advi_iterations": 2000}


def fast_fit(folder: Path) -> list[str]:
    """``--settings FILE`` flags for a fast fit (the settings file is written into ``folder``)."""
    path = folder / "fast.yaml"
    if not path.exists():
        path.write_text(json.dumps({"sampler": FAST_SAMPLER, "seed": 1}), encoding="utf-8")
    return ["--settings", str(path)]


def invoke(*args: str | Path) -> Any:
    """Run ``amplify ARGS`` in-process; the result has exit_code, stdout and stderr."""
    from amplify.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def invoke_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """Run ``amplify ARGS --json`` in-process; stdout must be exactly one JSON document."""
    result = invoke(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def run_subprocess(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``python -m amplify.cli ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "amplify.cli", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def simulated_account(path: Path, *, posts: int = 60, seed: int = 1) -> Path:
    """A small simulated account CSV (the same one for the same path name and seed)."""
    from amplify.simulate import World

    World(seed=seed).posts(posts, boosted_share=0.5).to_csv(path, index=False)
    return path


def bad_account(path: Path) -> Path:
    """An export with a negative spend and a non-numeric click count (a DataError)."""
    path.write_text(
        "post_id,platform,spend,paid_impressions,clicks,conversions\n"
        "p1,facebook,-5,1000,10,1\n"
        "p2,instagram,20,1000,lots,2\n",
        encoding="utf-8",
    )
    return path
