"""The SQLite ledger: one transaction per round, contiguous rounds, conflicts, settings checks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from amplify.ledger import Ledger, LedgerConflict, LedgerError, OutcomeRow

ARMS = ("facebook", "instagram", "tiktok")


def _rows(round_: int, *, reported: int | None = None, conv: int = 5) -> list[OutcomeRow]:
    return [
        OutcomeRow(
            round=round_,
            arm=a,
            age=0,
            reported_round=round_ if reported is None else reported,
            spend=100.0 + j,
            conversions=conv + j,
            impressions=1000,
            clicks=20,
        )
        for j, a in enumerate(ARMS)
    ]


def _commit(led: Ledger, run: int, r: int, rows: list[OutcomeRow] | None = None) -> None:
    led.commit_round(
        run,
        r,
        plan={"spend": {a: 1000.0 for a in ARMS}},
        constraints={"budget": 3000.0},
        policy="thompson",
        model_version="test",
        outcomes=_rows(r) if rows is None else rows,
    )


def test_round_trip_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with Ledger(path) as led:
        run = led.ensure_run("c", {"arms": list(ARMS)}, "test")
        assert led.last_round(run) == -1
        for r in range(3):
            _commit(led, run, r)
        assert led.last_round(run) == 2
        recs = led.rounds(run)
        assert [x.round for x in recs] == [0, 1, 2]
        assert recs[1].plan["spend"]["tiktok"] == 1000.0
        assert recs[1].policy == "thompson"
        df = led.outcomes(run)
        assert len(df) == 9
        assert df.loc[df["arm"] == "tiktok", "conversions"].tolist() == [7, 7, 7]
        assert led.check(run).ok
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # reopening sees the same run and rounds
    with Ledger(path) as led:
        assert led.ensure_run("c", {"arms": list(ARMS)}, "test") == run
        assert led.last_round(run) == 2


def test_a_failing_round_leaves_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "run.db") as led:
        run = led.ensure_run("c", {}, "test")
        _commit(led, run, 0)
        bad = [*_rows(1)[:2], OutcomeRow(1, "tiktok", 0, 1, spend=5.0, conversions=-3)]
        with pytest.raises(sqlite3.IntegrityError):
            _commit(led, run, 1, bad)
        # neither the plan nor the two valid outcome rows of round 1 were written
        assert led.last_round(run) == 0
        assert led.round(run, 1) is None
        assert led.outcomes(run)["round"].max() == 0
        assert led.check(run).ok
        _commit(led, run, 1)
        assert led.last_round(run) == 1


def test_rounds_must_be_contiguous_and_unique(tmp_path: Path) -> None:
    with Ledger(tmp_path / "run.db") as led:
        run = led.ensure_run("c", {}, "test")
        _commit(led, run, 0)
        with pytest.raises(LedgerConflict, match="last committed round is 0"):
            _commit(led, run, 0)
        with pytest.raises(LedgerConflict):
            _commit(led, run, 2)
        assert [x.round for x in led.rounds(run)] == [0]


def test_settings_mismatch_is_refused(tmp_path: Path) -> None:
    with Ledger(tmp_path / "run.db") as led:
        led.ensure_run("c", {"seed": 1, "arms": ["a"]}, "test")
        with pytest.raises(LedgerError, match="different: seed"):
            led.ensure_run("c", {"seed": 2, "arms": ["a"]}, "test")
        # another campaign name in the same file is fine
        assert led.ensure_run("d", {"seed": 2}, "test") != led.run_id("c")
        with pytest.raises(LedgerError, match="no campaign 'x'"):
            led.run_id("x")


def test_not_a_ledger(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not an amplify ledger"):
        Ledger(junk)


def test_a_ledger_locked_past_the_timeout_says_so(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LedgerError, match="locked by another process"):
            Ledger(path, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Ledger(path) as led:  # once released, the same file opens as a ledger
        assert led.ensure_run("c", {}, "test") >= 1


def test_late_reports_and_integrity_report(tmp_path: Path) -> None:
    with Ledger(tmp_path / "run.db") as led:
        run = led.ensure_run("c", {}, "test")
        _commit(led, run, 0)
        late = [OutcomeRow(0, a, age=1, reported_round=1, spend=100.0, conversions=9) for a in ARMS]
        _commit(led, run, 1, [*_rows(1), *late])
        latest = led.outcomes(run)
        assert latest.loc[latest["round"] == 0, "conversions"].tolist() == [9, 9, 9]
        assert len(led.outcome_rows(run, reported_round=1)) == 6
        assert len(led.outcome_rows(run, upto_round=0)) == 3
        # a planned round without outcomes is flagged when outcomes are required
        led.commit_round(run, 2, plan={"spend": {}}, constraints={}, policy="p", model_version="t")
        rep = led.check(run)
        assert rep.sqlite_ok
        assert rep.contiguous
        assert rep.rounds_without_outcomes == (2,)
        assert not rep.ok
        assert led.check(run, require_outcomes=False).ok
        with pytest.raises(LedgerError, match="plan a round before"):
            led.add_outcomes(run, _rows(3))


def test_concurrent_writers_do_not_corrupt(tmp_path: Path) -> None:
    """Four threads with their own connections race to commit the next round; each lands once."""
    path = tmp_path / "run.db"
    with Ledger(path) as led:
        run = led.ensure_run("c", {}, "test")
    conflicts = []

    def worker() -> None:
        with Ledger(path, timeout=30) as mine:
            for _ in range(15):
                r = mine.last_round(run) + 1
                try:
                    _commit(mine, run, r)
                except LedgerConflict:
                    conflicts.append(r)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Ledger(path) as led:
        rep = led.check(run)
        assert rep.ok, rep.problems
        assert rep.n_rounds + len(conflicts) == 60
