"""The campaign ledger: every plan decided and every outcome observed, in order, in one SQLite file.

Tables
------
``runs``
    One row per campaign: its name, the settings that define it (JSON) and the model version.
``rounds``
    One row per decision: round index (contiguous from 0), the plan (JSON), the constraints it
    obeyed (JSON), the policy, the model version and when it was decided.
``outcomes``
    What was observed: one row per (round, arm, age) — the round's spend, impressions, clicks and
    the conversions *reported so far* ``age`` days after that day (ad platforms report conversions
    late; a later report of the same day supersedes the earlier one). ``reported_round`` is the last
    round decided when the row was recorded: the learner replays rows in that order. Rows of a
    pre-period (history) have negative ``round`` and ``reported_round = -1``.

Guarantees
----------
WAL journal, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` transactions and a busy timeout: a round (its
plan and its outcomes) is written in ONE transaction, so a process killed mid-round loses no
committed round and leaves no half-written one; several processes may open the same ledger; the
primary keys and a "next round must be last + 1" check inside the write transaction keep two writers
from committing the same or a skipped round (:class:`LedgerConflict`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from amplify.errors import AmplifyError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    round INTEGER NOT NULL CHECK (round >= 0),
    plan TEXT NOT NULL,
    constraints TEXT NOT NULL,
    policy TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    round INTEGER NOT NULL,
    arm TEXT NOT NULL,
    age INTEGER NOT NULL CHECK (age >= 0),
    reported_round INTEGER NOT NULL CHECK (reported_round >= -1),
    spend REAL NOT NULL CHECK (spend >= 0),
    impressions INTEGER,
    clicks INTEGER,
    conversions INTEGER NOT NULL CHECK (conversions >= 0),
    source TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, round, arm, age)
);
CREATE INDEX IF NOT EXISTS outcomes_by_report ON outcomes (run_id, reported_round);
"""


class LedgerError(AmplifyError):
    """The ledger cannot do what was asked (wrong file, mismatched settings, missing run)."""


class LedgerConflict(LedgerError):
    """Another writer committed the round first (or the round is not the next one)."""


@dataclass(frozen=True)
class OutcomeRow:
    """One report of one arm's day: spend and counts as seen ``age`` days after the day.

    ``conversions`` are cumulative (everything reported for that day so far).
    """

    round: int
    arm: str
    age: int
    reported_round: int
    spend: float
    conversions: int
    impressions: int | None = None
    clicks: int | None = None
    source: str = "simulated"


@dataclass(frozen=True)
class RoundRecord:
    """One committed round as stored."""

    round: int
    plan: dict[str, Any]
    constraints: dict[str, Any]
    policy: str
    model_version: str
    created_at: str


@dataclass(frozen=True)
class IntegrityReport:
    """Result of :meth:`Ledger.check`."""

    sqlite_ok: bool
    n_rounds: int
    contiguous: bool
    rounds_without_outcomes: tuple[int, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.sqlite_ok and self.contiguous and not self.problems


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


class Ledger:
    """An open campaign ledger (a SQLite file).

    Parameters
    ----------
    path
        The ledger file; created with its schema when missing.
    timeout
        Seconds to wait for another process's write lock before failing.

    Examples
    --------
    >>> with Ledger("run.db") as led:  # doctest: +SKIP
    ...     run = led.ensure_run("default", {"arms": ["facebook"]}, "amplify 0.1")
    ...     led.last_round(run)
    -1
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise LedgerError(
                f"{self.path} is a directory; give the ledger a file name such as run.db"
            )
        self._conn = sqlite3.connect(
            str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        # sessions opening a new ledger at once race for the switch to WAL, and SQLite answers the
        # loser "database is locked" without waiting on the busy timeout: retry until the timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.DatabaseError as exc:
                locked = "locked" in str(exc)
                if locked and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                self._conn.close()
                problem = (
                    f"is locked by another process (waited {timeout:g} s; close the other session "
                    "or try again)"
                    if locked
                    else "is not an amplify ledger"
                )
                raise LedgerError(f"{self.path} {problem} (SQLite said: {exc})") from exc
        if str(mode).lower() != "wal":
            self._conn.close()
            raise LedgerError(
                f"{self.path}: could not switch the ledger to WAL mode (got {mode!r})"
            )
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self.transaction() as cur:
            # statement by statement: executescript() would COMMIT the transaction
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    cur.execute(stmt)
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path} has ledger schema {row[0]}; "
                    f"this amplify reads schema {SCHEMA_VERSION}"
                )

    # --- plumbing ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (committed data are already on disk)."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (``BEGIN IMMEDIATE``): all or nothing."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    # --- runs -------------------------------------------------------------------------------------
    def ensure_run(
        self,
        name: str,
        settings: Mapping[str, Any],
        model_version: str,
        *,
        history: Sequence[OutcomeRow] = (),
    ) -> int:
        """The id of campaign ``name``, created (with its pre-period ``history``) when missing.

        Raises
        ------
        LedgerError
            When the ledger already holds ``name`` with different settings: resuming it with other
            settings would mix two campaigns.
        """
        text = _dumps(dict(settings))
        with self.transaction() as cur:
            row = cur.execute(
                "SELECT run_id, settings FROM runs WHERE name = ?", (name,)
            ).fetchone()
            if row is not None:
                if row[1] != text:
                    old = json.loads(row[1])
                    diff = sorted(
                        k for k in set(old) | set(settings) if old.get(k) != settings.get(k)
                    )
                    raise LedgerError(
                        f"{self.path}: campaign {name!r} was started with other settings "
                        f"(different: {', '.join(diff)}). Use the same settings to resume it, "
                        "or a new "
                        f"ledger file / campaign name for a new campaign."
                    )
                return int(row[0])
            cur.execute(
                "INSERT INTO runs (name, settings, model_version, created_at) VALUES (?, ?, ?, ?)",
                (name, text, model_version, _now()),
            )
            run_id = cur.lastrowid
            assert run_id is not None
            self._insert_outcomes(cur, run_id, history)
            return int(run_id)

    def run_id(self, name: str) -> int:
        """The id of an existing campaign."""
        row = self._conn.execute("SELECT run_id FROM runs WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in self._conn.execute("SELECT name FROM runs ORDER BY run_id")]
            raise LedgerError(f"{self.path} has no campaign {name!r}; it has {names}")
        return int(row[0])

    def run_settings(self, run_id: int) -> dict[str, Any]:
        """The settings a campaign was created with."""
        row = self._conn.execute("SELECT settings FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path} has no run id {run_id}")
        return dict(json.loads(row[0]))

    # --- rounds -----------------------------------------------------------------------------------
    def last_round(self, run_id: int) -> int:
        """Index of the last committed round (-1 when none)."""
        row = self._conn.execute(
            "SELECT MAX(round) FROM rounds WHERE run_id = ?", (run_id,)
        ).fetchone()
        return -1 if row[0] is None else int(row[0])

    def commit_round(
        self,
        run_id: int,
        round_: int,
        *,
        plan: Mapping[str, Any],
        constraints: Mapping[str, Any],
        policy: str,
        model_version: str,
        outcomes: Sequence[OutcomeRow] = (),
    ) -> None:
        """Write one round (its plan and the outcomes reported with it) in ONE transaction.

        Raises
        ------
        LedgerConflict
            When ``round_`` is not the next round (another process committed it first).
        """
        plan_text, cons_text = _dumps(dict(plan)), _dumps(dict(constraints))
        with self.transaction() as cur:
            row = cur.execute(
                "SELECT MAX(round) FROM rounds WHERE run_id = ?", (run_id,)
            ).fetchone()
            last = -1 if row[0] is None else int(row[0])
            if round_ != last + 1:
                raise LedgerConflict(
                    f"{self.path}: cannot commit round {round_}: the last committed round is {last}"
                )
            try:
                cur.execute(
                    "INSERT INTO rounds (run_id, round, plan, constraints, policy, model_version,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run_id, round_, plan_text, cons_text, policy, model_version, _now()),
                )
            except sqlite3.IntegrityError as exc:  # pragma: no cover - guarded by the check above
                raise LedgerConflict(f"{self.path}: round {round_} already committed") from exc
            self._insert_outcomes(cur, run_id, outcomes)

    def add_outcomes(self, run_id: int, rows: Sequence[OutcomeRow]) -> None:
        """Record outcomes (imported results or late reports) in one transaction.

        A row for an existing (round, arm, age) replaces it (a corrected re-import).
        """
        with self.transaction() as cur:
            last = cur.execute(
                "SELECT MAX(round) FROM rounds WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            last = -1 if last is None else int(last)
            bad = sorted({r.round for r in rows if r.round > last})
            if bad:
                raise LedgerError(
                    f"{self.path}: outcomes for rounds {bad} but the last planned round is {last}; "
                    f"plan a round before recording its results"
                )
            self._insert_outcomes(cur, run_id, rows, replace=True)

    @staticmethod
    def _insert_outcomes(
        cur: sqlite3.Cursor, run_id: int, rows: Iterable[OutcomeRow], *, replace: bool = False
    ) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        now = _now()
        cur.executemany(
            f"{verb} INTO outcomes (run_id, round, arm, age, reported_round, spend, impressions,"
            " clicks,"
            " conversions, source, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    int(r.round),
                    r.arm,
                    int(r.age),
                    int(r.reported_round),
                    float(r.spend),
                    None if r.impressions is None else int(r.impressions),
                    None if r.clicks is None else int(r.clicks),
                    int(r.conversions),
                    r.source,
                    now,
                )
                for r in rows
            ],
        )

    # --- reading ----------------------------------------------------------------------------------
    def rounds(self, run_id: int) -> list[RoundRecord]:
        """Every committed round, in order."""
        cur = self._conn.execute(
            "SELECT round, plan, constraints, policy, model_version, created_at FROM rounds"
            " WHERE run_id = ? ORDER BY round",
            (run_id,),
        )
        return [
            RoundRecord(int(r[0]), json.loads(r[1]), json.loads(r[2]), r[3], r[4], r[5])
            for r in cur
        ]

    def round(self, run_id: int, round_: int) -> RoundRecord | None:
        """One committed round, or None."""
        r = self._conn.execute(
            "SELECT round, plan, constraints, policy, model_version, created_at FROM rounds"
            " WHERE run_id = ? AND round = ?",
            (run_id, round_),
        ).fetchone()
        if r is None:
            return None
        return RoundRecord(int(r[0]), json.loads(r[1]), json.loads(r[2]), r[3], r[4], r[5])

    def outcome_rows(
        self, run_id: int, *, reported_round: int | None = None, upto_round: int | None = None
    ) -> list[OutcomeRow]:
        """Stored outcome rows in a stable order (reported_round, round, arm, age).

        Parameters
        ----------
        reported_round
            Only rows recorded with this ``reported_round``.
        upto_round
            Only rows with ``reported_round <= upto_round``.
        """
        sql = (
            "SELECT round, arm, age, reported_round, spend, conversions, impressions, clicks,"
            " source"
            " FROM outcomes WHERE run_id = ?"
        )
        args: list[Any] = [run_id]
        if reported_round is not None:
            sql += " AND reported_round = ?"
            args.append(reported_round)
        if upto_round is not None:
            sql += " AND reported_round <= ?"
            args.append(upto_round)
        sql += " ORDER BY reported_round, round, arm, age"
        return [
            OutcomeRow(
                round=int(r[0]),
                arm=r[1],
                age=int(r[2]),
                reported_round=int(r[3]),
                spend=float(r[4]),
                conversions=int(r[5]),
                impressions=None if r[6] is None else int(r[6]),
                clicks=None if r[7] is None else int(r[7]),
                source=r[8],
            )
            for r in self._conn.execute(sql, args)
        ]

    def outcomes(self, run_id: int, *, latest: bool = True) -> pd.DataFrame:
        """Outcomes as a table; with ``latest`` only the most recent report of each (round, arm)."""
        rows = self.outcome_rows(run_id)
        df = pd.DataFrame([r.__dict__ for r in rows])
        if df.empty:
            return pd.DataFrame(
                columns=[
                    "round",
                    "arm",
                    "age",
                    "reported_round",
                    "spend",
                    "conversions",
                    "impressions",
                    "clicks",
                    "source",
                ]
            )
        if latest:
            df = (
                df.sort_values(["round", "arm", "age"])
                .groupby(["round", "arm"], as_index=False)
                .last()
            )
        return df.reset_index(drop=True)

    # --- checks -----------------------------------------------------------------------------------
    def check(self, run_id: int | None = None, *, require_outcomes: bool = True) -> IntegrityReport:
        """SQLite integrity check plus the ledger's own invariants for one run (or all runs).

        Rounds must be contiguous from 0; with ``require_outcomes`` every round must have outcomes
        (true for a simulated campaign, where a round's plan and outcomes are committed together).
        """
        res = self._conn.execute("PRAGMA integrity_check").fetchall()
        sqlite_ok = res == [("ok",)]
        problems: list[str] = [] if sqlite_ok else [f"integrity_check: {res}"]
        runs = (
            [run_id]
            if run_id is not None
            else [int(r[0]) for r in self._conn.execute("SELECT run_id FROM runs")]
        )
        n_rounds = 0
        contiguous = True
        missing: list[int] = []
        for rid in runs:
            idx = [
                int(r[0])
                for r in self._conn.execute(
                    "SELECT round FROM rounds WHERE run_id = ? ORDER BY round", (rid,)
                )
            ]
            n_rounds += len(idx)
            if idx != list(range(len(idx))):
                contiguous = False
                problems.append(f"run {rid}: round indices are not 0..{len(idx) - 1}")
            with_out = {
                int(r[0])
                for r in self._conn.execute(
                    "SELECT DISTINCT round FROM outcomes WHERE run_id = ? AND round >= 0", (rid,)
                )
            }
            orphans = sorted(with_out - set(idx))
            if orphans:
                problems.append(f"run {rid}: outcomes for rounds never planned: {orphans}")
            if require_outcomes:
                miss = sorted(set(idx) - with_out)
                missing.extend(miss)
                if miss:
                    problems.append(f"run {rid}: rounds without outcomes: {miss}")
        return IntegrityReport(sqlite_ok, n_rounds, contiguous, tuple(missing), tuple(problems))
