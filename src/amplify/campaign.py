"""The online campaign loop: plan -> outcomes -> update -> next plan, every round in the ledger.

A :class:`Campaign` decides one round (a day) at a time: posterior draws of each arm's curve from
the fast online learner (:mod:`amplify.learn`), a policy from :mod:`amplify.allocate` turns them
into spend, the outcomes come from a simulated :class:`~amplify.simulate.CampaignWorld` or from real
results recorded with :func:`record_outcomes`, and the learner is updated. Each round (plan,
constraints, policy, model version and the outcomes reported with it) is committed to the SQLite
ledger (:mod:`amplify.ledger`) in one transaction.

Restarting resumes from the ledger: the learner is rebuilt by replaying the committed outcomes in
the order they were recorded, and every round's random numbers come from ``(seed, round)``, so a
campaign killed at any moment and restarted ends exactly where an uninterrupted run with the same
seed ends.

Conversions are reported late (a day's conversions trickle in over ~7 days). In a simulated campaign
round ``r`` records day ``r`` as reported at the end of that day (age 0) and the updated cumulative
conversions of the previous days (ages 1..6); the learner divides each day's expectation by the
share reported so far.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplify.allocate import Constraints, get_policy
from amplify.allocate.constraints import normalize_platform
from amplify.curves import ResponseCurves
from amplify.errors import DataError, Problem
from amplify.learn import LearnerConfig, OnlineCurveLearner
from amplify.ledger import Ledger, LedgerConflict, LedgerError, OutcomeRow
from amplify.simulate import CampaignWorld, DayOutcome

__all__ = [
    "MODEL_VERSION",
    "POLICY_NAMES",
    "Campaign",
    "CampaignResult",
    "Policy",
    "make_policy",
    "record_outcomes",
    "run_simulated",
    "simulate_rounds",
]

FloatArray = NDArray[np.float64]

#: Written to the ledger with every run and round: what produced the plans.
MODEL_VERSION = (
    "amplify.learn.OnlineCurveLearner/grid-gamma-5 (posts pooled on their platform; impressions "
    "inform the curve shape; a platform's level may drift)"
)

#: Policies known by name (``"oracle"`` needs a simulated world).
POLICY_NAMES: tuple[str, ...] = (
    "thompson",
    "thompson_smoothed",
    "greedy",
    "epsilon_greedy",
    "ucb",
    "uniform",
    "oracle",
)


class Policy(Protocol):
    """What the loop needs from a policy (see :mod:`amplify.allocate.policies`)."""

    def allocate(
        self, curves: ResponseCurves, c: Constraints, rng: np.random.Generator
    ) -> FloatArray: ...


def make_policy(name: str) -> Policy | str:
    """The policy called ``name`` (:func:`amplify.allocate.get_policy` defaults).

    ``"thompson"`` is the default :class:`~amplify.allocate.InfoDirectedThompsonPolicy`;
    ``"thompson_smoothed"`` the classic :class:`~amplify.allocate.ThompsonPolicy` (plan smoothed
    toward one sampled target). ``"oracle"`` is returned as the string itself: only a simulated
    world can play it.
    """
    name = name.lower().replace("-", "_")
    if name == "oracle":
        return "oracle"
    if name not in POLICY_NAMES:
        raise ValueError(f"unknown policy {name!r}; choose one of {list(POLICY_NAMES)}")
    policy: Policy = get_policy(name)
    return policy


def _policy_name(policy: Policy | str) -> str:
    if isinstance(policy, str):
        return policy
    return str(getattr(policy, "name", type(policy).__name__))


def _policy_settings(policy: Policy | str) -> dict[str, Any]:
    if isinstance(policy, str):
        return {"name": policy}
    out: dict[str, Any] = {"name": _policy_name(policy), "class": type(policy).__name__}
    if dataclasses.is_dataclass(policy) and not isinstance(policy, type):
        out["params"] = _jsonable(dataclasses.asdict(policy))
    elif hasattr(policy, "model_dump"):
        out["params"] = _jsonable(policy.model_dump())
    else:
        out["params"] = repr(policy)
    return out


def _jsonable(obj: Any) -> Any:
    """Plain JSON values (tuples -> lists, numpy scalars -> Python)."""
    return json.loads(
        json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )


def round_rng(seed: int, round_: int) -> np.random.Generator:
    """The random generator of one round: a function of ``(seed, round)`` only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0xCA3, int(round_)]))


def draws_rng(seed: int) -> np.random.Generator:
    """The random generator of the posterior draws: the same at every round (common random numbers).

    Each round's draws then map the same uniforms through that round's posterior, so what changes
    from one day to the next is the posterior, not Monte Carlo noise that would move the plan (on
    20 of the allocation benchmark's worlds, 64 fresh draws a day made two greedy plans from the
    same posterior differ by 1.1-1.4% of the budget after 40 days).
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0xD7A]))


# --------------------------------------------------------------------------------------------------
# the per-round core, shared by the ledger-backed Campaign and the in-memory benchmark loop
# --------------------------------------------------------------------------------------------------


def feed_rows(learner: OnlineCurveLearner, rows: Sequence[OutcomeRow]) -> None:
    """Give outcome rows to the learner: spend, conversions and, where reported, paid impressions
    (grouped per day and age; missing arms and impressions stay NaN)."""
    pos = {a: j for j, a in enumerate(learner.arms)}
    groups: dict[tuple[int, int], tuple[FloatArray, FloatArray, FloatArray]] = {}
    for r in sorted(rows, key=lambda r: (r.round, r.age)):
        j = pos.get(r.arm)
        if j is None:
            continue
        key = (r.round, r.age)
        if key not in groups:
            groups[key] = (
                np.full(len(pos), np.nan),
                np.full(len(pos), np.nan),
                np.full(len(pos), np.nan),
            )
        s, c, imp = groups[key]
        s[j] = r.spend
        c[j] = r.conversions
        if r.impressions is not None:
            imp[j] = r.impressions
    for (day, age), (s, c, imp) in groups.items():
        learner.observe(day, s, c, age=age, impressions=imp)


def report_rows(
    arms: Sequence[str], outcomes: Mapping[int, DayOutcome], round_: int, n_delay: int
) -> list[OutcomeRow]:
    """What is reported at the end of day ``round_``: that day at age 0, older days' updates."""
    rows: list[OutcomeRow] = []
    for day in range(round_, round_ - n_delay, -1):
        out = outcomes.get(day)
        if out is None:
            continue
        age = round_ - day
        cum = out.report_delay[:, : age + 1].sum(axis=1)
        # .tolist() gives the Python floats and ints, one call per array instead of one per arm
        rows.extend(
            OutcomeRow(
                round=day,
                arm=arm,
                age=age,
                reported_round=round_,
                spend=spend,
                conversions=conv,
                impressions=impr,
                clicks=clicks,
                source="simulated",
            )
            for arm, spend, conv, impr, clicks in zip(
                arms,
                out.spend.astype(float).tolist(),
                cum.astype(np.int64).tolist(),
                out.impressions.astype(np.int64).tolist(),
                out.clicks.astype(np.int64).tolist(),
                strict=True,
            )
        )
    return rows


def _row_label(label: object) -> int | None:
    """A table row's index label as the row number problems name (None when it is not one)."""
    try:
        return int(label)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _whole_number(value: object) -> int | None:
    """``value`` as a whole number, or None (blank, text, a fraction)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return int(x) if math.isfinite(x) and x.is_integer() else None


def _with_arm_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a platform-level export's ``platform`` column as ``arm`` (when it has no
    ``arm`` column)."""
    if "arm" not in table.columns and "platform" in table.columns:
        return table.rename(columns={"platform": "arm"})
    return table


def _arm_rows(
    table: pd.DataFrame, arms: Sequence[str], file: str, problems: list[Problem]
) -> Iterator[tuple[int | None, str, dict[Any, Any]]]:
    """Each row of ``table`` whose ``arm`` is one of ``arms`` (as spelled there, or as exports spell
    a platform: "Facebook", "FB") as ``(row, arm, values)``, the row named by its index label; a
    row with another arm goes to ``problems``."""
    records: list[dict[Any, Any]] = table.to_dict("records")
    for label, r in zip(table.index, records, strict=True):
        i = _row_label(label)
        raw = str(r["arm"]).strip()
        arm = raw if raw in arms else normalize_platform(raw)
        if arm not in arms:
            problems.append(
                Problem(file, i, "arm", f"unknown arm {r['arm']!r}", f"use one of {sorted(arms)}")
            )
            continue
        yield i, arm, r


def _row_numbers(
    record: Mapping[Any, Any],
    cols: Sequence[str],
    where: str,
    row: int | None,
    problems: list[Problem],
) -> dict[str, float] | None:
    """The non-negative numbers of ``cols`` in one table row; a blank cell or an absent column is
    left out, anything else that is not a non-negative number goes to ``problems``. None (and a
    problem) when ``spend`` or ``conversions`` is not among them: a row needs both."""
    vals: dict[str, float] = {}
    for col in cols:
        v = record.get(col)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            problems.append(Problem(where, row, col, f"{v!r} is not a number", "enter a number"))
            continue
        if not math.isfinite(x) or x < 0:
            problems.append(
                Problem(where, row, col, f"{v!r} must be >= 0", "enter a non-negative value")
            )
            continue
        vals[col] = x
    if "spend" not in vals or "conversions" not in vals:
        problems.append(Problem(where, row, "spend/conversions", "empty value", "fill in both"))
        return None
    return vals


def history_rows(
    history: pd.DataFrame, arms: Sequence[str], *, file: str = "<history>"
) -> list[OutcomeRow]:
    """A pre-period table (``day < 0, arm, spend, conversions``, optionally ``impressions`` and
    ``clicks``, blank where not reported; ``platform`` for ``arm`` in a platform-level campaign,
    as in :func:`record_outcomes`) as ledger rows.

    Problems name ``file`` and each row by its index label (a table read from a CSV file can carry
    the file's row numbers there).

    Raises
    ------
    DataError
        A missing column, or every row with an unknown arm, a day that is not a negative whole
        number, a blank spend or conversions, or numbers that are not non-negative (row and column
        named).
    """
    history = _with_arm_column(history)
    need = {"day", "arm", "spend", "conversions"}
    missing = sorted(need - set(history.columns))
    if missing:
        raise DataError(
            [Problem(file, None, m, "missing column", f"add column {m!r}") for m in missing]
        )
    rows = []
    problems: list[Problem] = []
    for i, arm, r in _arm_rows(history, arms, file, problems):
        day = _whole_number(r["day"])
        if day is None or day >= 0:
            problems.append(
                Problem(
                    file,
                    i,
                    "day",
                    f"{r['day']!r}: history days must be negative whole numbers",
                    "number the days before the campaign -N..-1 (-1: the day before round 0)",
                )
            )
            continue
        vals = _row_numbers(r, ("spend", "conversions", "impressions", "clicks"), file, i, problems)
        if vals is None:
            continue
        rows.append(
            OutcomeRow(
                round=day,
                arm=arm,
                age=99,
                reported_round=-1,
                spend=vals["spend"],
                conversions=int(vals["conversions"]),
                impressions=int(vals["impressions"]) if "impressions" in vals else None,
                clicks=int(vals["clicks"]) if "clicks" in vals else None,
                source="history",
            )
        )
    if problems:
        raise DataError(problems)
    return rows


def decide(
    learner: OnlineCurveLearner,
    policy: Policy | str,
    constraints: Constraints,
    previous: FloatArray | None,
    state: FloatArray | None,
    rng: np.random.Generator,
    *,
    n_draws: int,
    draws: np.random.Generator | None = None,
    world: CampaignWorld | None = None,
    round_: int = 0,
) -> tuple[FloatArray, FloatArray | None]:
    """One round's spend per arm and the policy's new state.

    A policy on posterior draws, or the oracle on a simulated world.

    The curves are approximated in the allocator's family around yesterday's plan (see
    :meth:`~amplify.learn.OnlineCurveLearner.curves`) and drawn with ``draws`` (default ``rng``;
    the loops pass :func:`draws_rng`, the same every round); the policy's own randomness is
    ``rng``.
    """
    arms = learner.arms
    if isinstance(policy, str):
        if policy != "oracle" or world is None:
            raise ValueError(
                f"policy {policy!r} is not a policy object; only 'oracle' (with a world) is"
            )
        return np.asarray(world.oracle(constraints.budget, round_), dtype=float), None
    c = constraints
    if previous is not None:
        c = constraints.replace(previous={a: float(x) for a, x in zip(arms, previous, strict=True)})
    curves = learner.curves(n_draws, rng if draws is None else draws, around=previous)
    stepper = getattr(policy, "step", None)
    if callable(stepper):
        spend, new_state = stepper(curves, c, rng, state)
        return np.asarray(spend, dtype=float), np.asarray(new_state, dtype=float)
    return np.asarray(policy.allocate(curves, c, rng), dtype=float), None


@dataclass
class CampaignResult:
    """A campaign's rounds: per round and arm the set and actual spend, the conversions reported so
    far and, on a simulated world, the true expected conversions of the plan and of the oracle."""

    table: pd.DataFrame
    summary: dict[str, float] = field(default_factory=dict)


def summarize(table: pd.DataFrame, budget: float) -> dict[str, float]:
    """Totals, % of oracle (on a simulated world) and churn (share of the budget moved per day)."""
    by_round = table.pivot_table(index="round", columns="arm", values="spend_set", aggfunc="sum")
    moves = by_round.diff().abs().sum(axis=1).iloc[1:] / 2.0
    out: dict[str, float] = {
        "rounds": float(by_round.shape[0]),
        "spend": float(table["spend"].sum()),
        "conversions_reported": float(table["conversions"].sum()),
        "churn_pct": float(100.0 * moves.mean() / budget) if len(moves) else 0.0,
    }
    if "expected" in table and table["expected"].notna().all():
        out["expected"] = float(table["expected"].sum())
        if "oracle_expected" in table:
            out["oracle_expected"] = float(table["oracle_expected"].sum())
            out["pct_oracle"] = 100.0 * out["expected"] / out["oracle_expected"]
    return out


def simulate_rounds(
    world: CampaignWorld,
    policy: Policy | str,
    learner: OnlineCurveLearner,
    constraints: Constraints,
    rounds: int,
    *,
    seed: int,
    n_draws: int = 64,
    history: pd.DataFrame | None = None,
    oracle: Sequence[FloatArray] | None = None,
    on_round: Callable[[int, FloatArray], None] | None = None,
) -> dict[str, FloatArray]:
    """The loop without a ledger (for benchmarks): the same decisions :class:`Campaign` makes.

    ``on_round(r, plan)``, when given, is called after round ``r``'s reports have updated the
    learner, with that round's plan: a look at the learner as the next decision sees it.

    Returns
    -------
    dict
        ``spend_set`` (rounds, arms), ``expected`` (rounds, arms): true expected conversions of the
        plan.
    """
    learner.reset()
    arms = learner.arms
    n_delay = len(world.delay_pmf)
    if history is not None:
        feed_rows(learner, history_rows(history, arms))
    learner.refresh()
    outcomes: dict[int, DayOutcome] = {}
    previous: FloatArray | None = None
    state: FloatArray | None = None
    plans = np.empty((rounds, len(arms)))
    for r in range(rounds):
        if isinstance(policy, str) and oracle is not None:
            spend = np.asarray(oracle[r], dtype=float)
        else:
            spend, state = decide(
                learner,
                policy,
                constraints,
                previous,
                state,
                round_rng(seed, r),
                n_draws=n_draws,
                draws=draws_rng(seed),
                world=world,
                round_=r,
            )
        outcomes[r] = world.step(spend, r)
        outcomes.pop(r - n_delay, None)
        feed_rows(learner, report_rows(arms, outcomes, r, n_delay))
        learner.refresh()
        plans[r] = outcomes[r].spend_set
        previous = plans[r]
        if on_round is not None:
            on_round(r, plans[r])
    expected = np.array([world.expected(plans[r], r) for r in range(rounds)])
    return {"spend_set": plans, "expected": expected}


# --------------------------------------------------------------------------------------------------
# the ledger-backed campaign
# --------------------------------------------------------------------------------------------------


def stored_settings(ledger_path: str | Path, name: str) -> dict[str, Any] | None:
    """The settings campaign ``name`` of a ledger was started with (None: no such ledger file or
    campaign)."""
    path = Path(ledger_path)
    if not path.is_file():
        return None
    with Ledger(path) as led:
        try:
            return led.run_settings(led.run_id(name))
        except LedgerError:
            return None


def _stored_learner(settings: Mapping[str, Any] | None) -> LearnerConfig | None:
    """The learner of a campaign's stored settings (None: no settings, or none of the learner)."""
    learner = (settings or {}).get("learner")
    return None if learner is None else LearnerConfig.from_settings(learner)


def _history_sha256(rows: Sequence[OutcomeRow]) -> str:
    """The fingerprint of a campaign's pre-period kept in its settings."""
    text = json.dumps([dataclasses.astuple(r) for r in rows])
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_horizon(settings: Mapping[str, Any] | None) -> int | None:
    """The horizon of the simulated world in a campaign's stored settings."""
    found = re.search(r"horizon=(\d+)", str((settings or {}).get("world")))
    return None if found is None else int(found.group(1))


class Campaign:
    """An online campaign over a ledger: plans, outcomes and updates, resumable at any round.

    Parameters
    ----------
    ledger_path
        The SQLite ledger file (created when missing; an existing campaign of the same ``name``
        resumes).
    arms
        Arm names (platforms, or ``"platform:post"``).
    platform
        Platform of each arm (derived from the arm names when omitted).
    constraints
        :class:`~amplify.allocate.Constraints` (the daily budget and bounds), or just the daily
        budget. The loop sets ``previous`` to the last plan each round.
    policy
        A policy object, or a name from :data:`POLICY_NAMES` (default ``"thompson"``).
    learner
        An :class:`~amplify.learn.OnlineCurveLearner` for these arms, or a
        :class:`~amplify.learn.LearnerConfig`. None: the settings campaign ``name`` was started
        with when the ledger holds it (a campaign resumes with its own learner, also one started
        under an earlier default), else the default (weak priors centred on ``budget / n_arms``).
        Its state is rebuilt from the ledger.
    world
        A simulated :class:`~amplify.simulate.CampaignWorld` providing the outcomes; without one,
        plan with :meth:`plan_next` and record real results with :func:`record_outcomes`.
    seed
        Seeds every round's random numbers (with the round index).
    name
        Campaign name inside the ledger (one file may hold several campaigns).
    n_draws
        Posterior draws handed to the policy each round.
    history
        Optional pre-period (``day < 0``; columns ``day, arm, spend, conversions``, optionally
        ``impressions`` and ``clicks``; or its rows from :func:`history_rows`), stored in the
        ledger when the campaign is created. None: the one campaign ``name`` was started with,
        when the ledger holds it. Days of varied spend before the first round are worth more
        than exploring can buy (README, "Benchmarks").
    """

    def __init__(
        self,
        ledger_path: str | Path,
        *,
        arms: Sequence[str],
        platform: Sequence[str] | None = None,
        constraints: Constraints | float,
        policy: Policy | str = "thompson",
        learner: OnlineCurveLearner | LearnerConfig | None = None,
        world: CampaignWorld | None = None,
        seed: int = 0,
        name: str = "default",
        n_draws: int = 64,
        history: pd.DataFrame | Sequence[OutcomeRow] | None = None,
    ) -> None:
        self.ledger_path = Path(ledger_path)
        self.arms = tuple(arms)
        self.platform = (
            tuple(platform) if platform is not None else tuple(a.split(":")[0] for a in self.arms)
        )
        self.constraints = (
            constraints
            if isinstance(constraints, Constraints)
            else Constraints(budget=float(constraints))
        )
        self.policy: Policy | str = make_policy(policy) if isinstance(policy, str) else policy
        if isinstance(learner, OnlineCurveLearner):
            if learner.arms != self.arms:
                raise ValueError(
                    f"learner arms {learner.arms} differ from campaign arms {self.arms}"
                )
            self.learner = learner
        else:
            self.learner = OnlineCurveLearner(
                self.arms,
                self.platform,
                reference_spend=self.constraints.budget / len(self.arms),
                config=learner
                if learner is not None
                else _stored_learner(stored_settings(ledger_path, name)),
            )
        if world is not None and tuple(world.arms) != self.arms:
            raise ValueError(f"world arms {world.arms} differ from campaign arms {self.arms}")
        if self.policy == "oracle" and world is None:
            raise ValueError("the oracle policy needs a simulated world")
        self.world = world
        self.seed = int(seed)
        self.name = name
        self.n_draws = int(n_draws)
        #: the pre-period given (None: none given, so a resumed campaign keeps the one it was
        #: started with; see :meth:`_open`)
        self._history: list[OutcomeRow] | None = (
            None
            if history is None
            else history_rows(history, self.arms)
            if isinstance(history, pd.DataFrame)
            else list(history)
        )
        self._fed = -2  # last reported_round the learner has seen
        self._outcomes: dict[int, DayOutcome] = {}

    # --- settings ---------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What defines this campaign (stored in the ledger; a resume must match it, except that a
        campaign given no pre-period resumes with the one it was started with)."""
        return _jsonable(
            {
                "arms": list(self.arms),
                "platform": list(self.platform),
                "constraints": self.constraints.model_dump(exclude={"previous"}),
                "policy": _policy_settings(self.policy),
                "learner": self.learner.config.settings(),
                "reference_spend": self.learner.reference_spend.tolist(),
                "seed": self.seed,
                "n_draws": self.n_draws,
                "world": None if self.world is None else repr(self.world),
                "history_sha256": _history_sha256(self._history or []),
            }
        )

    def _open(self) -> tuple[Ledger, int]:
        led = Ledger(self.ledger_path)
        try:
            settings = self.settings()
            if self._history is None:  # no pre-period given: the stored one (its rows are there)
                with contextlib.suppress(LedgerError):
                    stored = led.run_settings(led.run_id(self.name))
                    settings["history_sha256"] = stored.get(
                        "history_sha256", settings["history_sha256"]
                    )
            run_id = led.ensure_run(self.name, settings, MODEL_VERSION, history=self._history or [])
        except BaseException:
            led.close()
            raise
        return led, run_id

    # --- learner sync -----------------------------------------------------------------------------
    def _sync(self, led: Ledger, run_id: int, upto: int, *, rebuild: bool = False) -> None:
        """Bring the learner to the state before planning round ``upto + 1``."""
        if rebuild or self._fed > upto:
            self.learner.reset()
            self._fed = -2
        for rr in range(self._fed + 1, upto + 1):
            feed_rows(self.learner, led.outcome_rows(run_id, reported_round=rr))
            self.learner.refresh()
            self._fed = rr

    def _previous(
        self, led: Ledger, run_id: int, round_: int
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """Yesterday's plan and the policy state stored with it."""
        rec = led.round(run_id, round_ - 1) if round_ > 0 else None
        if rec is None:
            return None, None
        spend = np.array([float(rec.plan["spend"][a]) for a in self.arms])
        st = rec.plan.get("policy_state")
        return spend, None if st is None else np.asarray(st, dtype=float)

    def _plan_json(
        self, spend: FloatArray, round_: int, state: FloatArray | None
    ) -> dict[str, Any]:
        exp = self.learner.expected(spend)
        return {
            "round": round_,
            "spend": {a: float(x) for a, x in zip(self.arms, spend, strict=True)},
            "expected_conversions": {a: float(x) for a, x in zip(self.arms, exp, strict=True)},
            "learner_days": self.learner.n_days,
            "policy_state": None if state is None else [float(x) for x in state],
        }

    # --- simulated run ----------------------------------------------------------------------------
    def run(
        self, rounds: int, *, progress: Callable[[int, int], None] | None = None
    ) -> CampaignResult:
        """Run until the ledger holds ``rounds`` rounds (resuming from what it already holds).

        Needs a simulated ``world``. Each round is committed with its outcomes in one transaction;
        if another process commits a round first, this one re-reads the ledger and carries on after
        it.
        """
        if self.world is None:
            raise LedgerError(
                "run() needs a simulated world; for a real campaign call plan_next() each day and "
                "record_outcomes() when results arrive"
            )
        world = self.world
        n_delay = len(world.delay_pmf)
        led, run_id = self._open()
        try:
            r = led.last_round(run_id) + 1
            self._sync(led, run_id, r - 1, rebuild=True)
            self._outcomes = self._replay_outcomes(led, run_id, r, n_delay)
            while r < rounds:
                previous, state = self._previous(led, run_id, r)
                spend, state = decide(
                    self.learner,
                    self.policy,
                    self.constraints,
                    previous,
                    state,
                    round_rng(self.seed, r),
                    n_draws=self.n_draws,
                    draws=draws_rng(self.seed),
                    world=world,
                    round_=r,
                )
                out = world.step(spend, r)
                self._outcomes[r] = out
                self._outcomes.pop(r - n_delay, None)
                rows = report_rows(self.arms, self._outcomes, r, n_delay)
                try:
                    led.commit_round(
                        run_id,
                        r,
                        plan=self._plan_json(out.spend_set, r, state),
                        constraints=self._constraints_json(previous),
                        policy=_policy_name(self.policy),
                        model_version=MODEL_VERSION,
                        outcomes=rows,
                    )
                except LedgerConflict:
                    # another process got there first: continue after whatever it committed
                    r = led.last_round(run_id) + 1
                    self._sync(led, run_id, r - 1, rebuild=True)
                    self._outcomes = self._replay_outcomes(led, run_id, r, n_delay)
                    continue
                self._sync(led, run_id, r)
                if progress is not None:
                    progress(r + 1, rounds)
                r += 1
            return self._result(led, run_id)
        finally:
            led.close()

    def _constraints_json(self, previous: FloatArray | None) -> dict[str, Any]:
        c = self.constraints.model_dump()
        c["previous"] = (
            None
            if previous is None
            else {a: float(x) for a, x in zip(self.arms, previous, strict=True)}
        )
        return dict(_jsonable(c))

    def _replay_outcomes(
        self, led: Ledger, run_id: int, next_round: int, n_delay: int
    ) -> dict[int, DayOutcome]:
        """The simulated outcomes of the last days (still reporting), re-run from their plans."""
        assert self.world is not None
        out: dict[int, DayOutcome] = {}
        for day in range(max(0, next_round - n_delay + 1), next_round):
            rec = led.round(run_id, day)
            if rec is None:
                continue
            spend = np.array([float(rec.plan["spend"][a]) for a in self.arms])
            out[day] = self.world.step(spend, day)
        return out

    # --- real campaign ----------------------------------------------------------------------------
    def plan_next(self) -> dict[str, Any]:
        """Plan the next round from everything recorded so far and commit it (real campaigns).

        Returns
        -------
        dict
            The stored plan: ``round``, ``spend`` per arm, the learner's ``expected_conversions``.
        """
        led, run_id = self._open()
        try:
            r = led.last_round(run_id) + 1
            self._sync(led, run_id, r - 1, rebuild=True)
            previous, state = self._previous(led, run_id, r)
            spend, state = decide(
                self.learner,
                self.policy,
                self.constraints,
                previous,
                state,
                round_rng(self.seed, r),
                n_draws=self.n_draws,
                draws=draws_rng(self.seed),
                world=self.world,
                round_=r,
            )
            plan = self._plan_json(spend, r, state)
            led.commit_round(
                run_id,
                r,
                plan=plan,
                constraints=self._constraints_json(previous),
                policy=_policy_name(self.policy),
                model_version=MODEL_VERSION,
            )
            return plan
        finally:
            led.close()

    # --- results ----------------------------------------------------------------------------------
    def results(self) -> CampaignResult:
        """Every committed round as a table (and, on a simulated world, % of the oracle)."""
        led, run_id = self._open()
        try:
            return self._result(led, run_id)
        finally:
            led.close()

    def _result(self, led: Ledger, run_id: int) -> CampaignResult:
        rounds = led.rounds(run_id)
        latest = led.outcomes(run_id)
        latest = latest[latest["round"] >= 0] if len(latest) else latest
        records: list[dict[Any, Any]] = latest.to_dict("records")
        got = {(int(r["round"]), str(r["arm"])): r for r in records}
        rows = []
        for rec in rounds:
            spend_set = np.array([float(rec.plan["spend"][a]) for a in self.arms])
            exp = orc = None
            if self.world is not None:
                exp = self.world.expected(spend_set, rec.round)
                orc = self.world.expected(
                    self.world.oracle(self.constraints.budget, rec.round), rec.round
                )
            for j, a in enumerate(self.arms):
                o = got.get((rec.round, a))
                rows.append(
                    {
                        "round": rec.round,
                        "arm": a,
                        "spend_set": spend_set[j],
                        "spend": math.nan if o is None else float(o["spend"]),
                        "conversions": math.nan if o is None else float(o["conversions"]),
                        "expected": math.nan if exp is None else float(exp[j]),
                        "oracle_expected": math.nan if orc is None else float(orc[j]),
                    }
                )
        table = pd.DataFrame(rows)
        if self.world is None:
            table = table.drop(columns=["expected", "oracle_expected"])
        return CampaignResult(
            table, summarize(table, self.constraints.budget) if len(table) else {}
        )


# --------------------------------------------------------------------------------------------------
# recording real results
# --------------------------------------------------------------------------------------------------


def record_outcomes(
    ledger: str | Path | Ledger,
    round: int,
    df: pd.DataFrame,
    *,
    name: str = "default",
    source: str = "imported",
    file: str = "<outcomes>",
) -> int:
    """Record real results of one round (a day) in the ledger, in one transaction.

    Parameters
    ----------
    ledger
        Ledger file or open :class:`~amplify.ledger.Ledger`.
    round
        The round (day) the results belong to; it must have been planned.
    df
        One row per arm: ``arm`` (or ``platform`` for platform-level campaigns), ``spend``,
        ``conversions`` (everything reported for that day so far) and optionally ``impressions``
        (paid impressions: they teach the learner each arm's curve shape within days, see
        :mod:`amplify.learn`), ``clicks`` and ``age`` (days between the day and the report;
        default: the number of rounds planned since).
    name
        Campaign name in the ledger.
    source
        Free label stored with the rows.
    file
        The file named by problems with ``df``, whose rows they name by index label (a table read
        from a CSV file can carry the file's row numbers there).

    Returns
    -------
    int
        Number of rows written. Re-importing the same day at the same age replaces the earlier rows.
    """
    led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    try:
        run_id = led.run_id(name)
        arms = led.run_settings(run_id)["arms"]
        last = led.last_round(run_id)
        if round < 0 or round > last:
            raise LedgerError(
                f"{led.path}: round {round} has not been planned (last planned round: {last})"
            )
        data = _with_arm_column(df)
        problems: list[Problem] = []
        for col in ("arm", "spend", "conversions"):
            if col not in data.columns:
                problems.append(Problem(file, None, col, "missing column", f"add a {col!r} column"))
        if problems:
            raise DataError(problems)
        rows: list[OutcomeRow] = []
        default_age = last - round
        for i, arm, r in _arm_rows(data, arms, file, problems):
            vals = _row_numbers(
                r, ("spend", "conversions", "impressions", "clicks", "age"), file, i, problems
            )
            if vals is None:
                continue
            rows.append(
                OutcomeRow(
                    round=int(round),
                    arm=arm,
                    age=int(vals.get("age", default_age)),
                    reported_round=last,
                    spend=vals["spend"],
                    conversions=_round_half(vals["conversions"]),
                    impressions=None if "impressions" not in vals else int(vals["impressions"]),
                    clicks=None if "clicks" not in vals else int(vals["clicks"]),
                    source=source,
                )
            )
        if problems:
            raise DataError(problems)
        led.add_outcomes(run_id, rows)
        return len(rows)
    finally:
        if not isinstance(ledger, Ledger):
            led.close()


def _round_half(x: float) -> int:
    """Round half away from zero (conversions may come as 3.0 from a spreadsheet)."""
    return math.floor(x + 0.5)


# --------------------------------------------------------------------------------------------------
# convenience for the CLI
# --------------------------------------------------------------------------------------------------


def run_simulated(
    ledger_path: str | Path,
    rounds: int = 30,
    seed: int = 7,
    *,
    variant: str = "stationary",
    policy: str = "thompson",
    n_posts: int | None = None,
    budget: float = 3000.0,
    history_days: int = 0,
    name: str = "default",
    progress: Callable[[int, int], None] | None = None,
    learner: LearnerConfig | None = None,
) -> CampaignResult:
    """A simulated campaign on a :class:`~amplify.simulate.CampaignWorld`, recorded in a ledger.

    Running it again with the same arguments resumes (or, when complete, just reads the ledger);
    with more ``rounds`` it goes on in the same world (its horizon, which sets the day of a change
    and the span of a drift, is the one it was started with).

    Parameters
    ----------
    ledger_path
        The ledger file.
    rounds
        Total number of daily rounds.
    seed
        Seeds the world and the policy.
    variant
        ``"stationary"``, ``"mild_change"``, ``"severe_change"`` or ``"drift"``.
    policy
        A name from :data:`POLICY_NAMES`.
    n_posts
        Post-level arms (10..30 typical) instead of the three platforms.
    budget
        Daily budget.
    history_days
        Days of pre-period history given to the learner before round 0.
    name
        Campaign name in the ledger.
    progress
        Called with ``(rounds_done, rounds)`` after each committed round.
    learner
        The learner's settings (None: those of the campaign in the ledger, else the default
        :class:`~amplify.learn.LearnerConfig`).
    """
    stored = stored_settings(ledger_path, name)  # read once: the world's horizon and the learner
    horizon = _stored_horizon(stored) or max(int(rounds), 2)
    if learner is None:  # the stored learner, else the default (Campaign need not read it again)
        learner = _stored_learner(stored) or LearnerConfig()
    if n_posts:
        world = CampaignWorld.posts(
            seed, n_posts, variant=variant, horizon=horizon, daily_budget=budget
        )
    else:
        world = CampaignWorld(seed, variant=variant, horizon=horizon, daily_budget=budget)
    history = world.history(history_days) if history_days > 0 else None
    camp = Campaign(
        ledger_path,
        arms=world.arms,
        platform=world.platform,
        constraints=Constraints(budget=budget),
        policy=policy,
        world=world,
        seed=seed,
        name=name,
        history=history,
        learner=learner,
    )
    return camp.run(rounds, progress=progress)
