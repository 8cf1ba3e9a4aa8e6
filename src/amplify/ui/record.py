"""Recording the plan a marketer decides to use in the ledger (:mod:`amplify.ledger`).

One campaign per dataset (named ``app:<dataset>``); each "Use this plan" commits the next round.
Several sessions may record at once: the ledger's write transaction refuses a round another writer
committed first (:class:`~amplify.ledger.LedgerConflict`), and :func:`record_plan` then retries with
the next round, so rounds stay contiguous and none is lost or duplicated. The last recorded plan is
"the plan in use" that the Plan page's max-change limit compares against.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Model version written with every recorded round.
MODEL_VERSION = "amplify.model.BoostModel (app)"


def default_ledger_path() -> Path:
    """``$AMPLIFY_LEDGER``, else ``~/.local/share/amplify/app_ledger.db``."""
    env = os.environ.get("AMPLIFY_LEDGER")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "amplify" / "app_ledger.db"


def campaign_name(dataset_id: str) -> str:
    """The ledger campaign of a dataset (by fingerprint: renaming a file does not split it)."""
    return f"app:{dataset_id[:16]}"


def _settings(dataset_name: str, arms: list[str]) -> dict[str, Any]:
    return {"source": "amplify app", "arms": sorted(arms)}


def record_plan(
    path: Path | str,
    dataset_id: str,
    dataset_name: str,
    plan: Any,
    constraints: Mapping[str, Any],
    *,
    retries: int = 20,
) -> int:
    """Commit ``plan`` as the next round of the dataset's campaign; returns the round index.

    Retries on :class:`~amplify.ledger.LedgerConflict` (another session committed first).
    """
    from amplify.ledger import Ledger, LedgerConflict

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    doc = {"dataset": dataset_name, **plan.to_dict()}
    with Ledger(p) as led:
        run = led.ensure_run(
            campaign_name(dataset_id), _settings(dataset_name, list(plan.arms)), MODEL_VERSION
        )
        for attempt in range(retries):
            nxt = led.last_round(run) + 1
            try:
                led.commit_round(
                    run,
                    nxt,
                    plan=doc,
                    constraints=dict(constraints),
                    policy=str(plan.policy),
                    model_version=MODEL_VERSION,
                )
                return nxt
            except LedgerConflict:
                time.sleep(0.005 * (attempt + 1))
    raise RuntimeError(f"could not record the plan in {p}: {retries} concurrent conflicts in a row")


def plan_in_use(path: Path | str, dataset_id: str) -> dict[str, float] | None:
    """Spend per platform of the dataset's last recorded plan, or None when none was recorded."""
    from amplify.ledger import Ledger, LedgerError

    p = Path(path)
    if not p.exists():
        return None
    with Ledger(p) as led:
        try:
            run = led.run_id(campaign_name(dataset_id))
        except LedgerError:
            return None
        last = led.last_round(run)
        if last < 0:
            return None
        rec = led.round(run, last)
    if rec is None:
        return None
    rows = rec.plan.get("per_platform") or []
    return {str(r["platform"]): float(r["spend"]) for r in rows if r.get("spend") is not None}
