"""The orchestration shared by the command line and the app: settings → fit → plan.

One settings object (:class:`RecommendSettings`, read from YAML/JSON by :func:`load_settings`) says
how to fit and what to recommend; :func:`fit` turns a post table into a fitted
:class:`~amplify.model.BoostModel`; :func:`recommend` turns a post table or a fitted model into a
:class:`~amplify.allocate.Plan`; and :func:`recommend_account` is the whole job for one account —
export file and settings in, plan files out — as one function of its arguments that never raises, so
a process pool (or Dask / Ray) can fan it out over hundreds of accounts.

Heavy libraries (PyMC via :mod:`amplify.model`) are imported inside the functions that need them, so
that ``amplify --help`` and settings validation stay fast.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from amplify import constants as C
from amplify.errors import AmplifyError

if TYPE_CHECKING:
    from amplify.allocate import Constraints, Plan
    from amplify.curves import ResponseCurves
    from amplify.model import BoostModel
    from amplify.scenarios import Scenario

__all__ = [
    "AccountResult",
    "PlatformLimits",
    "RecommendSettings",
    "SamplerSettings",
    "SettingsError",
    "atomic_write_bytes",
    "atomic_write_dir",
    "atomic_write_text",
    "build_constraints",
    "curves_for",
    "fit",
    "fit_problems",
    "load_posts",
    "load_scenarios",
    "load_settings",
    "make_settings",
    "plan_frame",
    "plan_records",
    "read_previous_plan",
    "recommend",
    "recommend_account",
    "what_if",
    "write_plan",
]

#: ``progress(stage, fraction)`` callbacks, as taken by :meth:`amplify.model.BoostModel.fit`.
Progress = Callable[[str, float], None]


class SettingsError(AmplifyError, ValueError):
    """Settings that cannot be used; the message names the file and the key."""


# --- settings ------------------------------------------------------------------------------------


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known keys: {', '.join(known)}"


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    """Settings blocks reachable from an annotation (through ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _submodels(arg)]


def _is_mapping(annotation: Any) -> bool:
    return get_origin(annotation) is dict or any(_is_mapping(a) for a in get_args(annotation))


def _known_keys(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``path`` in ``model`` (``("platforms", "facebook")`` → min/max/lock)."""
    current: type[BaseModel] | None = model
    i = 0
    while current is not None and i < len(path):
        field = current.model_fields.get(str(path[i]))
        if field is None:
            return []
        subs = _submodels(field.annotation)
        i += 1
        if _is_mapping(field.annotation):
            i += 1  # skip the mapping key (a platform name)
        current = subs[0] if subs else None
    return list(current.model_fields) if current is not None else []


class _Strict(BaseModel):
    """A settings block: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformLimits(_Strict):
    """Spend limits for one platform (in account currency, for the whole budget period).

    Parameters
    ----------
    min, max
        Lower and upper bound on the platform's total spend.
    lock
        Spend exactly this much on the platform (overrides ``min``/``max``).
    """

    min: float = Field(default=0.0, ge=0.0)
    max: float | None = Field(default=None, ge=0.0)
    lock: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _check_order(self) -> PlatformLimits:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self


class SamplerSettings(_Strict):
    """How to fit: the posterior approximation and its size (``amplify.model.SamplerConfig``)."""

    method: Literal["nuts", "advi", "pathfinder"] = "nuts"
    nuts_sampler: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(default=1000, ge=10)
    tune: int = Field(default=1000, ge=0)
    chains: int = Field(default=2, ge=1)
    target_accept: float = Field(default=0.9, gt=0.0, lt=1.0)
    advi_iterations: int = Field(default=20_000, ge=100)
    cores: int | None = Field(default=None, ge=1)


def _canonical_platform(name: str) -> str:
    key = "".join(ch for ch in str(name).lower() if ch not in " -_")
    if key in C.PLATFORM_ALIASES:
        return C.PLATFORM_ALIASES[key]
    close = difflib.get_close_matches(key, list(C.PLATFORMS), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(C.PLATFORMS)}"
    raise PydanticCustomError("unknown_platform", f"unknown platform {name!r}: {hint}")


class RecommendSettings(_Strict):
    """Everything that decides a recommendation: budget, constraints, policy, sampler and seed.

    Parameters
    ----------
    budget
        Total spend to allocate (account currency). Required by :func:`recommend`; not by
        :func:`fit`.
    platforms
        Per-platform ``min`` / ``max`` / ``lock``; keys accept common spellings (``FB``, ``IG``,
        ``tik tok``).
    max_change
        Largest move of any arm versus ``previous``, as a fraction of the budget (e.g. ``0.2``).
    previous
        Yesterday's plan: ``{platform: spend}``, or the path of a plan file written by ``amplify
        recommend``.
    target_cpa, target_roas
        Optional targets the plan must respect (spend less rather than miss them).
    level
        ``"platform"`` splits the budget across platforms; ``"post"`` across candidate (not yet
        boosted) posts.
    policy
        How each plan is chosen from the posterior: ``"thompson"`` (Thompson sampling with
        information-directed exploration: moves toward sampled optima only where the information is
        worth the cost), ``"greedy"`` (posterior mean; exploits), ``"epsilon_greedy"``, ``"ucb"``
        (optimistic), or ``"uniform"`` (equal split, a baseline).
    n_boosts
        Platform level: how many posts the platform budget is spread over (widens each curve's
        saturation).
    step
        Round each arm's spend to a multiple of this (0 = no rounding).
    max_draws
        Posterior draws used for the curves (fewer = faster plans).
    source, columns
        How to read an export: the importer (``"auto"`` detects it from the header; ``"generic"``,
        ``"meta"``, ``"meta_organic"``, ``"tiktok"``) and a ``{canonical_column: export_header}``
        mapping overriding its column choice.
    sampler
        Fitting settings (:class:`SamplerSettings`).
    seed
        Seed of every random choice (sampler and policy): same data + settings + seed → same plan.
    """

    budget: float | None = Field(default=None, gt=0.0)
    platforms: dict[str, PlatformLimits] = Field(default_factory=dict)
    max_change: float | None = Field(default=None, gt=0.0, le=1.0)
    previous: dict[str, float] | Path | None = None
    target_cpa: float | None = Field(default=None, gt=0.0)
    target_roas: float | None = Field(default=None, gt=0.0)
    level: Literal["platform", "post"] = "platform"
    policy: Literal["thompson", "greedy", "epsilon_greedy", "ucb", "uniform"] = "thompson"
    n_boosts: int | dict[str, int] = 1
    step: float = Field(default=0.0, ge=0.0)
    max_draws: int = Field(default=1000, ge=1)
    source: Literal["auto", "generic", "meta", "meta_organic", "tiktok"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    sampler: SamplerSettings = Field(default_factory=SamplerSettings)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="wrap")
    @classmethod
    def _hint_unknown_keys(cls, data: Any, handler: Any) -> Any:
        """Unknown keys anywhere get a "did you mean …" hint; other errors pass through."""
        try:
            return handler(data)
        except ValidationError as err:
            details: list[Any] = []
            for e in err.errors():
                msg = str(e["msg"])
                if e["type"] == "extra_forbidden":
                    key = str(e["loc"][-1])
                    known = _known_keys(cls, e["loc"][:-1])
                    msg = f"unknown key {key!r}: {_did_you_mean(key, known)}"
                elif msg.startswith("Value error, "):
                    msg = msg[len("Value error, ") :]
                details.append(
                    {
                        "type": PydanticCustomError(e["type"], msg),
                        "loc": e["loc"],
                        "input": e["input"],
                    }
                )
            raise ValidationError.from_exception_data(err.title, details) from None

    @field_validator("platforms", mode="before")
    @classmethod
    def _platform_keys(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for name, limits in v.items():
                canon = _canonical_platform(name)
                if canon in out:
                    raise PydanticCustomError(
                        "duplicate_platform", f"platform {canon!r} is given twice"
                    )
                out[canon] = limits
            return out
        return v

    @field_validator("previous", mode="before")
    @classmethod
    def _previous_keys(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {_canonical_platform(k): s for k, s in v.items()}
        if isinstance(v, str):
            return Path(v)
        return v

    @field_validator("n_boosts", mode="before")
    @classmethod
    def _n_boosts_keys(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            out = {_canonical_platform(k): n for k, n in v.items()}
            if any(not isinstance(n, int) or n < 1 for n in out.values()):
                raise PydanticCustomError("n_boosts", "n_boosts must be whole numbers ≥ 1")
            return out
        if isinstance(v, int) and v < 1:
            raise PydanticCustomError("n_boosts", "n_boosts must be ≥ 1")
        return v

    @model_validator(mode="after")
    def _check_budget(self) -> RecommendSettings:
        if self.budget is None:
            return self
        locked = sum(p.lock for p in self.platforms.values() if p.lock is not None)
        mins = sum(p.min for p in self.platforms.values() if p.lock is None)
        if locked + mins > self.budget + 1e-9:
            raise ValueError(
                f"platform locks and minimums add up to {locked + mins:g}, "
                f"above the budget {self.budget:g}"
            )
        return self

    def with_overrides(self, **changes: Any) -> RecommendSettings:
        """A validated copy with the given keys replaced (``None`` values are ignored).

        ``sampler`` may be a partial mapping (``{"draws": 200}``); ``platforms`` mappings are merged
        per platform.
        """
        data = self.model_dump(exclude_unset=False)
        for key, value in changes.items():
            if value is None:
                continue
            if key == "sampler" and isinstance(value, Mapping):
                data["sampler"] = {
                    **data["sampler"],
                    **{k: v for k, v in value.items() if v is not None},
                }
            elif key == "platforms" and isinstance(value, Mapping):
                merged = {k: dict(v) for k, v in data["platforms"].items()}
                for name, lim in value.items():
                    try:
                        canon = _canonical_platform(name)
                    except PydanticCustomError as err:
                        raise SettingsError(f"settings: platforms: {err.message()}") from None
                    merged[canon] = {**merged.get(canon, {}), **dict(lim)}
                data["platforms"] = merged
            else:
                data[key] = value
        try:
            return RecommendSettings.model_validate(data)
        except ValidationError as err:
            raise SettingsError(_format_validation(err, "settings")) from None


def _format_validation(err: ValidationError, where: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{where}: {loc}: {msg}")
    return "\n".join(lines)


def _read_mapping_file(p: Path, *, allow_list: bool = False) -> Any:
    """The parsed content of a YAML/JSON file (a mapping, or a list when allowed)."""
    import yaml

    if not p.is_file():
        raise SettingsError(f"{p}: file not found")
    text = p.read_text(encoding="utf-8-sig")
    try:
        raw = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise SettingsError(
            f"{p}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise SettingsError(f"{p}: {where}not valid YAML ({problem})") from None
    if raw is None:
        raw = {}
    if isinstance(raw, list) and allow_list:
        return raw
    if not isinstance(raw, Mapping):
        raise SettingsError(
            f"{p}: expected a mapping of settings (key: value), got {type(raw).__name__}"
        )
    return raw


def load_settings(path: str | os.PathLike[str], **overrides: Any) -> RecommendSettings:
    """Read :class:`RecommendSettings` from a YAML or JSON file.

    Parameters
    ----------
    path
        ``.yaml`` / ``.yml`` / ``.json`` file holding one mapping of settings.
    **overrides
        Values that replace the file's (command-line flags); ``None`` values are ignored.

    Raises
    ------
    SettingsError
        The file is missing, does not parse, or a key is unknown or invalid; the message names the
        file, the key (and the line, when the file does not parse) and what to fix.
    """
    p = Path(path)
    raw = _read_mapping_file(p)
    data = dict(raw)
    prev = data.get("previous")
    if isinstance(prev, str) and not Path(prev).is_absolute():
        data["previous"] = str(p.parent / prev)
    try:
        settings = RecommendSettings.model_validate(data)
    except ValidationError as err:
        raise SettingsError(_format_validation(err, str(p))) from None
    if any(v is not None for v in overrides.values()):
        try:
            settings = settings.with_overrides(**overrides)
        except SettingsError as err:
            raise SettingsError(f"{p} + command-line flags:\n{err}") from None
    return settings


def make_settings(
    path: str | os.PathLike[str] | None = None, **overrides: Any
) -> RecommendSettings:
    """Settings from an optional file plus overrides (command-line flags; ``None`` = not given)."""
    if path is not None:
        return load_settings(path, **overrides)
    return RecommendSettings().with_overrides(**overrides)


# --- data ----------------------------------------------------------------------------------------


def load_posts(
    path_or_frame: str | os.PathLike[str] | pd.DataFrame, settings: RecommendSettings
) -> pd.DataFrame:
    """The validated post table of an export, read the way ``settings.source`` /
    ``settings.columns`` say.

    Raises :class:`amplify.errors.DataError` (every problem, with file, row and column) on bad data.
    """
    from amplify import data

    return data.load(path_or_frame, source=settings.source, mapping=dict(settings.columns) or None)


# --- fit and plan --------------------------------------------------------------------------------


def fit(
    posts: pd.DataFrame, settings: RecommendSettings, *, progress: Progress | None = None
) -> BoostModel:
    """Fit the boost model to a validated post table with the settings' sampler and seed.

    The caller decides what to do with ``model.diagnostics_`` (the CLI refuses a fit whose
    diagnostics are not ok unless told otherwise).
    """
    from amplify.model import BoostModel, SamplerConfig

    s = settings.sampler
    config = SamplerConfig(
        method=s.method,
        nuts_sampler=s.nuts_sampler,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        target_accept=s.target_accept,
        advi_iterations=s.advi_iterations,
        cores=s.cores,
        seed=settings.seed,
    )
    return BoostModel(sampler=config).fit(posts, progress=progress)


#: Start of the warning every approximate (ADVI / pathfinder) fit carries: a choice, not a failure.
_APPROXIMATE = "approximate fit"


def fit_problems(diagnostics: Any) -> list[str]:
    """Why a fit should not be trusted (empty when it is fine).

    These are the diagnostics' warnings minus the one every approximate fit carries: choosing ADVI
    is not a failed convergence.

    ``diagnostics`` is a :class:`amplify.model.Diagnostics` or its dict form.
    """
    get = diagnostics.get if isinstance(diagnostics, Mapping) else partial(getattr, diagnostics)
    if get("ok", False):
        return []
    warnings = [str(w) for w in (get("warnings", None) or [])]
    problems = [w for w in warnings if not w.startswith(_APPROXIMATE)]
    if not problems and not get("approximate", False):
        problems = ["diagnostics not ok"]
    return problems


def curves_for(
    model: BoostModel, settings: RecommendSettings, candidates: pd.DataFrame | None = None
) -> ResponseCurves:
    """The response curves a plan is made on: per platform, or per candidate post."""
    if settings.level == "post":
        try:
            return model.post_curves(candidates, max_draws=settings.max_draws, seed=settings.seed)
        except ValueError as err:  # e.g. no candidate (never boosted) posts
            raise SettingsError(f"level: post: {err}") from None
    return model.platform_curves(
        settings.n_boosts, max_draws=settings.max_draws, seed=settings.seed
    )


def read_previous_plan(path: str | os.PathLike[str]) -> dict[str, float]:
    """Spend per platform of a plan file written by ``amplify recommend`` (CSV or JSON)."""
    p = Path(path)
    if not p.is_file():
        raise SettingsError(f"previous: plan file {p} not found")
    try:
        if p.suffix.lower() == ".json":
            doc = json.loads(p.read_text(encoding="utf-8"))
            rows = doc.get("per_platform") if isinstance(doc, Mapping) else None
            if rows is None and isinstance(doc, Mapping) and isinstance(doc.get("plan"), Mapping):
                rows = doc["plan"].get("per_platform")
            frame = pd.DataFrame(rows)
        else:
            frame = pd.read_csv(p)
    except (ValueError, OSError) as e:
        raise SettingsError(f"previous: {p} is not a plan file ({e})") from None
    if C.SPEND not in frame.columns or C.PLATFORM not in frame.columns:
        raise SettingsError(
            f"previous: {p} needs columns 'platform' and 'spend' "
            f"(has {', '.join(map(str, frame.columns))})"
        )
    frame = frame[frame[C.PLATFORM].astype(str).isin(C.PLATFORMS)]
    spend = pd.to_numeric(frame[C.SPEND], errors="coerce")
    if spend.isna().any():
        raise SettingsError(f"previous: {p}: column 'spend' has non-numeric values")
    return {str(k): float(v) for k, v in spend.groupby(frame[C.PLATFORM].astype(str)).sum().items()}


def build_constraints(
    settings: RecommendSettings, curves: ResponseCurves | None = None
) -> Constraints:
    """The allocator's :class:`~amplify.allocate.Constraints` for these settings.

    ``previous`` and ``max_change`` apply at platform level; at post level (new candidate posts
    every time, so no previous spend per arm) they are ignored.
    """
    if settings.budget is None:
        raise SettingsError("budget: missing; give --budget or set `budget:` in the settings file")
    from amplify.allocate import Constraints, PlatformBounds

    if curves is not None:
        unknown = sorted(set(settings.platforms) - set(curves.platform))
        if unknown:
            raise SettingsError(
                f"platforms: {', '.join(unknown)} not in the data (platforms with data: "
                f"{', '.join(sorted(set(curves.platform)))})"
            )
    bounds = {
        name: PlatformBounds(min=lim.min, max=lim.max, lock=lim.lock)
        for name, lim in settings.platforms.items()
    }
    previous: dict[str, float] | None
    if isinstance(settings.previous, Path):
        previous = read_previous_plan(settings.previous)
    else:
        previous = settings.previous
    if previous is not None and curves is not None:
        if settings.level == "post":
            previous = None
        else:
            previous = {a: float(previous.get(a, 0.0)) for a in curves.arms}
    return Constraints(
        budget=settings.budget,
        bounds=bounds,
        step=settings.step,
        max_change=settings.max_change if previous is not None else None,
        previous=previous,
        target_cpa=settings.target_cpa,
        target_roas=settings.target_roas,
    )


def _policy(name: str) -> Any:
    from amplify.allocate import get_policy

    return get_policy(name)


def recommend(
    posts_or_model: pd.DataFrame | BoostModel,
    settings: RecommendSettings,
    *,
    candidates: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> Plan:
    """A plan for ``settings.budget`` from a post table (fitted here) or an already fitted model.

    Parameters
    ----------
    posts_or_model
        A validated post table (see :func:`load_posts`) or a fitted
        :class:`~amplify.model.BoostModel`.
    settings
        Budget, constraints, level, policy and seed.
    candidates
        Post level only: the posts to split the budget over (default: the model's not-yet-boosted
        posts).
    progress
        ``progress(stage, fraction)`` callback for the fit, when one happens.

    Returns
    -------
    Plan
        Spend per arm with expected conversions, CPA and their intervals (see
        :class:`amplify.allocate.Plan`).
    """
    from amplify.allocate import make_plan

    if settings.budget is None:
        raise SettingsError("budget: missing; give --budget or set `budget:` in the settings file")
    model = (
        fit(posts_or_model, settings, progress=progress)
        if isinstance(posts_or_model, pd.DataFrame)
        else posts_or_model
    )
    curves = curves_for(model, settings, candidates)
    constraints = build_constraints(settings, curves)
    rng = np.random.default_rng(settings.seed)
    return make_plan(curves, constraints, policy=_policy(settings.policy), rng=rng)


def what_if(
    model: BoostModel,
    settings: RecommendSettings,
    scenarios: Sequence[Scenario],
    *,
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each scenario planned and evaluated next to the baseline (see
    :func:`amplify.scenarios.compare`).

    The baseline is ``settings`` (budget and constraints) on the model's curves; differences are
    paired draw by draw. A scenario naming a platform the data does not have is a
    :class:`SettingsError`.
    """
    from amplify.scenarios import compare

    curves = curves_for(model, settings, candidates)
    base = build_constraints(settings, curves)
    try:
        return compare(curves, scenarios, base, rng=settings.seed)
    except KeyError as err:  # a shock on a platform without arms
        raise SettingsError(str(err.args[0] if err.args else err)) from None


def load_scenarios(
    path: str | os.PathLike[str],
) -> tuple[list[Scenario], dict[str, Any]]:
    """Read a what-if file: a list of scenarios, or ``{scenarios: [...], <baseline settings>...}``.

    Returns the scenarios and the baseline settings found beside them (``budget``, ``platforms``,
    ...: any :class:`RecommendSettings` key), which the caller merges into its settings.

    Raises
    ------
    SettingsError
        Naming the file, the scenario (by position and name) and the key, with "did you mean" hints.
    """
    from amplify.scenarios import Scenario

    p = Path(path)
    raw = _read_mapping_file(p, allow_list=True)
    if isinstance(raw, list):
        items, baseline = raw, {}
    else:
        baseline = dict(raw)
        items = baseline.pop("scenarios", None)
        if items is None:
            raise SettingsError(f"{p}: no `scenarios:` list (each item: name, budget, bounds, ...)")
        unknown = [k for k in baseline if k not in RecommendSettings.model_fields]
        if unknown:
            known = ["scenarios", *RecommendSettings.model_fields]
            raise SettingsError(
                "\n".join(f"{p}: unknown key {k!r}: {_did_you_mean(k, known)}" for k in unknown)
            )
    if not isinstance(items, list) or not items:
        raise SettingsError(f"{p}: `scenarios` must be a non-empty list of what-ifs")
    out: list[Scenario] = []
    lines: list[str] = []
    for i, item in enumerate(items, start=1):
        label = f"scenario {i}"
        if isinstance(item, Mapping) and item.get("name"):
            label += f" ({item['name']})"
        if not isinstance(item, Mapping):
            lines.append(f"{p}: {label}: expected a mapping (name: ..., budget: ...)")
            continue
        try:
            out.append(Scenario.model_validate(dict(item)))
        except ValidationError as err:
            for e in err.errors():
                loc = ".".join(str(x) for x in e["loc"])
                msg = str(e["msg"]).removeprefix("Value error, ")
                if e["type"] == "extra_forbidden":
                    key = str(e["loc"][-1])
                    known = _known_keys(Scenario, e["loc"][:-1])
                    msg = f"unknown key {key!r}: {_did_you_mean(key, known)}"
                lines.append(f"{p}: {label}: {loc}: {msg}")
        except (ValueError, AmplifyError) as err:
            lines.append(f"{p}: {label}: {err}")
    if lines:
        raise SettingsError("\n".join(lines))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SettingsError(f"{p}: scenario names must be unique; repeated: {', '.join(dupes)}")
    return out, baseline


# --- plan files ----------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    """Plain-Python (JSON-safe) copy of nested numpy / pandas values; NaN and inf become None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return [_jsonable(r) for r in obj.reset_index().to_dict(orient="records")]
    if isinstance(obj, (pd.Series, np.ndarray)):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def plan_records(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-safe mapping (as in ``recommend --json`` output and plan JSON files)."""
    return _jsonable(plan.to_dict())


def plan_frame(plan: Plan) -> pd.DataFrame:
    """The plan as one table, one row per arm (what plan CSV files hold)."""
    frame = plan.to_frame()
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return frame


@contextlib.contextmanager
def _temp_beside(target: Path, *, is_dir: bool = False) -> Iterator[Path]:
    """A temporary path in ``target``'s folder, removed unless it was renamed over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    finally:
        if tmp.exists():
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` whole: a temporary file beside it, then ``os.replace``."""
    target = Path(path)
    with _temp_beside(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_dir(path: str | os.PathLike[str], fill: Callable[[Path], object]) -> Path:
    """Create the folder ``path`` all at once: ``fill(tmp_dir)`` writes into a temporary sibling
    folder, which then replaces ``path`` (an existing ``path`` is only removed after ``fill``
    succeeded)."""
    import shutil

    target = Path(path)
    if target.exists() and not target.is_dir():
        raise SettingsError(f"{target} exists and is not a folder")
    with _temp_beside(target, is_dir=True) as tmp:
        fill(tmp)
        old: Path | None = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def write_plan(
    plan: Plan, path: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write a plan as CSV (one row per arm) or JSON (the whole plan), chosen by the file suffix."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        doc = {**plan_records(plan), **_jsonable(dict(extra or {}))}
        return atomic_write_text(p, json.dumps(doc, indent=2) + "\n")
    if p.suffix.lower() != ".csv":
        raise SettingsError(f"--out {p}: use a .csv or .json file name")
    return atomic_write_text(p, plan_frame(plan).to_csv(index=False))


# --- one account, end to end ---------------------------------------------------------------------

Status = Literal["ok", "bad_input", "bad_fit", "error"]

#: Exit code of each account status (see :mod:`amplify.commands.common`).
STATUS_EXIT: dict[str, int] = {"ok": 0, "bad_input": 2, "bad_fit": 3, "error": 1}


@dataclass(frozen=True)
class AccountResult:
    """What happened to one account: plan files written, or why not. Plain data (picklable,
    JSON-able).

    ``status`` is ``"ok"``, ``"bad_input"`` (the export or settings cannot be used), ``"bad_fit"``
    (the sampler did not converge; no plan written unless allowed) or ``"error"`` (a bug — please
    report it).
    """

    account: str
    export: str
    status: Status
    message: str = ""
    plan_csv: str | None = None
    plan_json: str | None = None
    n_posts: int = 0
    budget: float | None = None
    spend: float | None = None
    conversions: float | None = None
    conversions_p10: float | None = None
    conversions_p90: float | None = None
    cpa: float | None = None
    max_rhat: float | None = None
    divergences: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exit_code(self) -> int:
        return STATUS_EXIT[self.status]

    def to_row(self) -> dict[str, Any]:
        """One JSON-safe summary row."""
        return _jsonable(asdict(self))


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    # every error amplify raises on purpose (bad data, settings, constraints) is about the input
    return (AmplifyError,)


def _total_stat(plan: Plan, *names: str) -> float | None:
    total = plan.total
    for name in names:
        try:
            value = total[name]
        except (KeyError, TypeError, IndexError):
            value = getattr(total, name, None)
        if value is not None:
            try:
                return float(value)
            except (TypeError, ValueError):
                continue
    return None


def recommend_account(
    export_path: str | os.PathLike[str],
    settings: RecommendSettings,
    out_dir: str | os.PathLike[str],
    *,
    allow_bad_fit: bool = False,
) -> AccountResult:
    """Read one account's export, fit, plan, and write ``<account>_plan.csv`` and
    ``<account>_plan.json``.

    The account name is the export's file stem. This function depends only on its arguments and
    never raises: every failure comes back as an :class:`AccountResult` with a status and a message,
    so one bad account cannot stop a batch, and a cluster engine can map it over exports as it is.

    Parameters
    ----------
    export_path
        One account's export (any format :func:`amplify.data.load` reads).
    settings
        Budget, constraints, sampler and seed (the same for every account of a batch).
    out_dir
        Folder for the plan files (created if missing). Files appear whole or not at all.
    allow_bad_fit
        Write a plan even when the sampler's diagnostics are not ok (status stays ``"ok"``, message
        warns).
    """
    start = time.perf_counter()
    export = Path(export_path)
    account = export.stem
    base: dict[str, Any] = {"account": account, "export": str(export), "budget": settings.budget}

    def done(status: Status, message: str = "", **fields: Any) -> AccountResult:
        return AccountResult(
            status=status,
            message=message,
            seconds=round(time.perf_counter() - start, 3),
            **base,
            **fields,
        )

    bad_input = _bad_input_errors()
    try:
        if settings.budget is None:
            raise SettingsError(
                "budget: missing; give --budget or set `budget:` in the settings file"
            )
        posts = load_posts(export, settings)
        base["n_posts"] = len(posts)
        model = fit(posts, settings)
        diag = model.diagnostics_
        base["max_rhat"] = _finite_or_none(getattr(diag, "max_rhat", None))
        base["divergences"] = getattr(diag, "divergences", None)
        note = ""
        problems = fit_problems(diag)
        if problems:
            detail = "; ".join(problems)
            if not allow_bad_fit:
                return done("bad_fit", f"the fit is not trustworthy ({detail}); no plan written")
            note = f"written despite a poor fit ({detail})"
        plan = recommend(model, settings)
        out = Path(out_dir)
        meta = {
            "account": account,
            "export": str(export),
            "settings": settings.model_dump(mode="json"),
        }
        csv_path = write_plan(plan, out / f"{account}_plan.csv")
        json_path = write_plan(plan, out / f"{account}_plan.json", extra=meta)
        warnings = list(getattr(plan, "warnings", []) or [])
        message = "; ".join([m for m in [note, *warnings] if m])
        return done(
            "ok",
            message,
            plan_csv=str(csv_path),
            plan_json=str(json_path),
            spend=float(np.sum(plan.spend)),
            conversions=_total_stat(plan, "conv_mean", "conversions_mean", "conversions"),
            conversions_p10=_total_stat(plan, "conv_p10", "conversions_p10"),
            conversions_p90=_total_stat(plan, "conv_p90", "conversions_p90"),
            cpa=_total_stat(plan, "cpa_mean", "cpa"),
        )
    except bad_input as err:
        return done("bad_input", str(err))
    except Exception as err:
        return done("error", f"{type(err).__name__}: {err}")


def _finite_or_none(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
