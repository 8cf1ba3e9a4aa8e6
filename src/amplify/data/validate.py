"""Validation: from a raw table and a column plan to the canonical post table, every problem found.

An importer (see :mod:`amplify.data.importers`) decides which file column feeds which canonical
column and parses it through a :class:`Context`, which records each bad cell as a
:class:`~amplify.errors.Problem` naming the file, the row as the user sees it and the column as
spelled in the file. :func:`finish` then runs the checks across columns and rows (negative amounts,
clicks above paid impressions, duplicate posts, ...), sums per-day ad rows into one row per post
when asked, derives ``boosted`` and returns the typed table, or raises a single
:class:`~amplify.errors.DataError` listing everything found.

Conversions above clicks are valid (view-through conversions count an impression without a click)
and are not flagged. Engagements above organic impressions and reach above impressions are
suspicious but possible in some exports, so they are warnings, stored in ``df.attrs["warnings"]``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from amplify import constants as C
from amplify.data.readers import RawTable, clean_strings, parse_numbers
from amplify.data.schema import (
    DTYPES,
    FALSE_TOKENS,
    TRUE_TOKENS,
    normalise_format,
    normalise_header,
    normalise_platform,
    platform_key,
)
from amplify.errors import DataError, Problem, Severity

#: At most this many rows are listed one by one per column and kind of problem; the rest summarised.
MAX_LISTED: Final = 20

#: Human names of canonical columns, used in messages.
DESCRIPTIONS: Final[dict[str, str]] = {
    C.POST_ID: "post ID",
    C.PLATFORM: "platform",
    C.POSTED_AT: "post date",
    C.FORMAT: "format",
    C.ORGANIC_IMPRESSIONS: "organic impressions",
    C.ORGANIC_REACH: "organic reach",
    C.ORGANIC_ENGAGEMENTS: "organic engagements",
    C.ORGANIC_SHARES: "organic shares",
    C.SPEND: "spend",
    C.PAID_IMPRESSIONS: "paid impressions",
    C.CLICKS: "clicks",
    C.CONVERSIONS: "conversions",
    C.REVENUE: "revenue",
    C.BOOSTED: "boosted flag",
}

_DATE_FORMATS_MDY: Final[tuple[str, ...]] = (
    "ISO8601",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%b %d, %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%d %B %Y",
)
_DMY_FIRST: Final[tuple[str, ...]] = (
    "ISO8601",
    *[f for f in _DATE_FORMATS_MDY if f.startswith(("%d/", "%d."))],
    *[f for f in _DATE_FORMATS_MDY[1:] if not f.startswith(("%d/", "%d."))],
)


@dataclass
class Field:
    """A canonical column parsed from the file.

    Attributes
    ----------
    values : pandas.Series
        Parsed values, positionally aligned with the raw table.
    column : str or None
        Where it came from, as the user would recognise it (a header, or ``"Likes + Comments"`` for
        a sum); None when generated or filled from ``defaults``.
    """

    values: pd.Series
    column: str | None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> list[str]:
    """Candidates that look like ``word`` (ignoring case, spaces and punctuation), best first."""
    pool = {normalise_header(c): c for c in candidates}
    hits = difflib.get_close_matches(normalise_header(word), list(pool), n=3, cutoff=cutoff)
    return [pool[h] for h in hits]


class Context:
    """Parses columns of one raw table and collects the problems found, each located in the file.

    Parameters
    ----------
    raw : RawTable
        The table being imported.
    """

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = list(raw.warnings)
        self._numbers: dict[str, pd.Series] = {}
        #: column -> positions already reported as errors in it
        self.flagged: dict[str | None, set[int]] = {}

    @property
    def file(self) -> str:
        """The file name used in every problem."""
        return self.raw.file

    def __len__(self) -> int:
        return len(self.raw.frame)

    # -- reporting ---------------------------------------------------------------------------------
    def add(
        self,
        row: int | None,
        column: str | None,
        message: str,
        fix: str = "",
        severity: Severity = "error",
    ) -> None:
        """Record one problem (``row`` is the user-visible row number, or None)."""
        target = self.problems if severity == "error" else self.warnings
        target.append(Problem(self.file, row, column, message, fix, severity))

    def add_rows(
        self,
        positions: Sequence[int] | np.ndarray,
        column: str | None,
        messages: Sequence[str],
        fix: str,
        severity: Severity = "error",
    ) -> None:
        """One problem per row (positions in the raw table); past :data:`MAX_LISTED`, a summary."""
        positions = np.asarray(positions, dtype=int)
        if severity == "error":
            self.flagged.setdefault(column, set()).update(int(p) for p in positions)
        rows = self.raw.row_of(positions)
        for row, message in zip(rows[:MAX_LISTED], messages[:MAX_LISTED], strict=False):
            self.add(row, column, message, fix, severity)
        if len(rows) > MAX_LISTED:
            rest = rows[MAX_LISTED:]
            shown = ", ".join(str(r) for r in rest[:10]) + (", …" if len(rest) > 10 else "")
            self.add(
                None,
                column,
                f"{len(rest)} more rows with the same kind of problem (rows {shown})",
                fix,
                severity,
            )

    # -- parsing -----------------------------------------------------------------------------------
    def column(self, header: str) -> pd.Series:
        """The raw values of one column."""
        return self.raw.frame[header]

    def numbers(self, header: str, canonical: str) -> pd.Series:
        """Floats from a column, reporting each value that is not a number (parsed once)."""
        if header in self._numbers:
            return self._numbers[header]
        raw = self.column(header)
        values, bad = parse_numbers(raw, self.raw.decimal)
        pos = np.flatnonzero(bad.to_numpy())
        if len(pos):
            example = "1250.50" if self.raw.decimal == "." else "1250,50"
            self.add_rows(
                pos,
                header,
                [f"'{raw.iloc[i]}' is not a number" for i in pos],
                f"write {DESCRIPTIONS.get(canonical, canonical)} as a plain number such as "
                f"{example}, or leave the cell empty if unknown",
            )
        self._numbers[header] = values
        return values

    def text(self, header: str) -> pd.Series:
        """Values as stripped strings (object dtype), NaN where missing."""
        return as_text(self.column(header))

    def dates(self, header: str) -> pd.Series:
        """Timestamps (naive; UTC where a zone is given), reporting values that are not dates."""
        values, bad = parse_dates(self.column(header), dayfirst=self.raw.decimal == ",")
        pos = np.flatnonzero(bad.to_numpy())
        if len(pos):
            raw = self.column(header)
            self.add_rows(
                pos,
                header,
                [f"'{raw.iloc[i]}' is not a date" for i in pos],
                "write dates as YYYY-MM-DD (e.g. 2024-03-31) or MM/DD/YYYY HH:MM, "
                "or leave the cell empty if unknown",
            )
        return values

    def flags(self, header: str) -> pd.Series:
        """A yes/no column as 1.0 / 0.0 / NaN, reporting values that are neither."""
        raw = self.column(header)
        if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
            num = pd.to_numeric(raw, errors="coerce").astype("float64")
            return (num > 0).astype("float64").where(num.notna())
        key = as_text(raw).str.casefold()
        out = pd.Series(np.nan, index=raw.index, dtype="float64")
        out[key.isin(TRUE_TOKENS)] = 1.0
        out[key.isin(FALSE_TOKENS)] = 0.0
        num = pd.to_numeric(key, errors="coerce")
        out = out.where(out.notna() | num.isna(), (num > 0).astype("float64"))
        bad = np.flatnonzero((key.notna() & out.isna()).to_numpy())
        if len(bad):
            self.add_rows(
                bad,
                header,
                [f"'{raw.iloc[i]}' is not a yes/no value" for i in bad],
                "write 1/0, yes/no or true/false (empty = unknown)",
            )
        return out

    def platforms(self, values: pd.Series, column: str) -> pd.Series:
        """Canonical platform names, reporting unknown spellings (missing values stay NaN)."""
        text = as_text(values)
        uniques = pd.unique(text.dropna())
        lookup = {u: normalise_platform(u) for u in uniques}
        out = text.map(lookup)
        unknown = np.flatnonzero((text.notna() & out.isna()).to_numpy())
        if len(unknown):
            choices = set(C.PLATFORMS) | set(C.PLATFORM_ALIASES)
            messages = []
            for i in unknown:
                value = str(text.iloc[i])
                hint = difflib.get_close_matches(
                    platform_key(value), list(choices), n=1, cutoff=0.6
                )
                guess = (
                    f"; did you mean '{C.PLATFORM_ALIASES.get(hint[0], hint[0])}'?" if hint else ""
                )
                messages.append(f"unknown platform '{value}'{guess}")
            self.add_rows(
                unknown,
                column,
                messages,
                "use facebook, instagram or tiktok (FB, Facebook, IG, Insta, TikTok, tik tok are "
                "accepted too)",
            )
        return out.astype(object)

    def field(self, canonical: str, header: str) -> Field:
        """Parse ``header`` as the canonical column ``canonical`` according to its kind."""
        if canonical in C.NUMERIC_COLUMNS:
            return Field(self.numbers(header, canonical), header)
        if canonical == C.POSTED_AT:
            return Field(self.dates(header), header)
        if canonical == C.PLATFORM:
            return Field(self.platforms(self.column(header), header), header)
        if canonical == C.BOOSTED:
            return Field(self.flags(header), header)
        if canonical == C.FORMAT:
            return Field(map_unique(self.text(header), normalise_format), header)
        return Field(self.text(header), header)


# --------------------------------------------------------------------------------------------------
# value parsers


def as_text(values: pd.Series) -> pd.Series:
    """Stripped strings (object dtype) with NaN where missing; integral floats lose their ``.0``."""
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        arr = arr[~np.isnan(arr)]
        exact = np.isfinite(arr).all() and (np.abs(arr) < 2**53).all()
        if len(arr) and exact and bool((arr % 1 == 0).all()):
            values = values.astype("Int64")
    return clean_strings(values)


def map_unique(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``func`` applied once per distinct non-missing value (object dtype result, NaN kept)."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    lookup = np.array([*(func(u) for u in uniques), np.nan], dtype=object)
    return pd.Series(lookup[codes], index=values.index, dtype=object)


def parse_dates(values: pd.Series, *, dayfirst: bool = False) -> tuple[pd.Series, pd.Series]:
    """Parse dates written in any of the common export formats.

    The format that reads most values is applied first, then the others fill in what is left, so a
    column mixing ``2024-03-31`` and ``03/31/2024 10:15`` reads fully. Zoned timestamps are
    converted to UTC and made naive.

    Returns
    -------
    dates : pandas.Series of datetime64[ns]
        NaT where missing or unreadable.
    bad : pandas.Series of bool
        True where a value is present but is not a date.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dt = pd.to_datetime(values)
        if getattr(dt.dt, "tz", None) is not None:
            dt = dt.dt.tz_convert(None)
        return dt.astype("datetime64[ns]"), pd.Series(False, index=values.index)
    text = as_text(values)
    codes, distinct = pd.factorize(text, use_na_sentinel=True)
    uniques = pd.Index([str(u) for u in distinct], dtype=object)
    parsed = pd.Series(pd.NaT, index=uniques, dtype="datetime64[ns]")
    formats = list(_DMY_FIRST if dayfirst else _DATE_FORMATS_MDY)
    remaining = uniques
    while len(remaining) and formats:
        best_fmt, best = None, None
        for fmt in formats:
            got = _to_datetime(remaining, fmt)
            if best is None or got.notna().sum() > best.notna().sum():
                best_fmt, best = fmt, got
            if got.notna().all():
                break
        if best is None or best_fmt is None or best.notna().sum() == 0:
            break
        parsed[best.index[best.notna()]] = best[best.notna()]
        remaining = remaining[best.isna().to_numpy()]
        formats.remove(best_fmt)
    lookup = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    dates = pd.Series(lookup[codes], index=values.index, dtype="datetime64[ns]")
    bad = text.notna() & dates.isna()
    return dates, bad.astype(bool)


def _to_datetime(values: pd.Index, fmt: str) -> pd.Series:
    """Parse with one format; NaT for failures, for bare numbers and outside years 1900-2200."""
    got = pd.to_datetime(pd.Series(values, index=values), format=fmt, errors="coerce", utc=True)
    got = got.dt.tz_convert(None)
    plausible = (got.dt.year >= 1900) & (got.dt.year <= 2200)
    dated = pd.Series(values, index=values).astype(str).str.contains(r"\d\D+\d", regex=True)
    return got.where(plausible & dated).astype("datetime64[ns]")


def convert_defaults(ctx: Context, defaults: Mapping[str, object] | None) -> dict[str, object]:
    """Check and type the user's per-column defaults (reported as column ``defaults['name']``)."""
    out: dict[str, object] = {}
    for key, value in (defaults or {}).items():
        where = f"defaults['{key}']"
        if key not in C.CANONICAL_COLUMNS:
            hint = did_you_mean(key, C.CANONICAL_COLUMNS)
            ctx.add(
                None,
                where,
                f"'{key}' is not a column of the post table"
                + (f"; did you mean '{hint[0]}'?" if hint else ""),
                "use one of: " + ", ".join(C.CANONICAL_COLUMNS),
            )
            continue
        one = pd.Series([value])
        if key == C.PLATFORM:
            platform = normalise_platform(value)
            if platform is None:
                ctx.add(
                    None, where, f"unknown platform '{value}'", "use facebook, instagram or tiktok"
                )
                continue
            out[key] = platform
        elif key in C.NUMERIC_COLUMNS:
            num, bad = parse_numbers(one.astype(object) if isinstance(value, str) else one)
            if bool(bad.iloc[0]) or pd.isna(num.iloc[0]):
                ctx.add(None, where, f"'{value}' is not a number", "give a plain number")
                continue
            out[key] = float(num.iloc[0])
        elif key == C.POSTED_AT:
            dates, bad = parse_dates(one)
            if bool(bad.iloc[0]) or pd.isna(dates.iloc[0]):
                ctx.add(None, where, f"'{value}' is not a date", "write it as YYYY-MM-DD")
                continue
            out[key] = dates.iloc[0]
        elif key == C.BOOSTED:
            token = str(value).strip().casefold()
            if isinstance(value, bool) or token in TRUE_TOKENS | FALSE_TOKENS:
                out[key] = float(value) if isinstance(value, bool) else float(token in TRUE_TOKENS)
            else:
                ctx.add(None, where, f"'{value}' is not a yes/no value", "use true or false")
                continue
        elif key == C.FORMAT:
            out[key] = normalise_format(value)
        else:
            out[key] = str(value)
    return out


# --------------------------------------------------------------------------------------------------
# checks across columns and rows, aggregation, the finished table


def finish(
    ctx: Context,
    fields: dict[str, Field],
    extras: Sequence[str],
    *,
    defaults: Mapping[str, object] | None = None,
    aggregate: bool = False,
) -> pd.DataFrame:
    """Check the parsed columns against each other, and build the canonical table.

    Parameters
    ----------
    ctx : Context
        The parsing context; its problems so far are kept and reported together with the new ones.
    fields : dict of str to Field
        Parsed canonical columns (at least ``post_id`` unless it is to be generated, see below).
    extras : sequence of str
        File headers to keep as extra columns (segments, covariates), in order.
    defaults : mapping, optional
        Values for canonical columns that are absent, or empty in some rows (``{"platform":
        "facebook"}``).
    aggregate : bool
        Sum rows of the same post (same ``post_id`` and platform): per-day ad rows. Otherwise a
        repeated post is a problem.

    Returns
    -------
    pandas.DataFrame
        The canonical table; ``attrs["warnings"]`` lists non-fatal findings.

    Raises
    ------
    DataError
        With every problem found.
    """
    n = len(ctx)
    index = pd.RangeIndex(n)
    typed_defaults = convert_defaults(ctx, defaults)
    cols: dict[str, pd.Series] = {}
    where: dict[str, str] = {}
    for name in C.CANONICAL_COLUMNS:
        f = fields.get(name)
        if f is not None:
            cols[name] = f.values.reset_index(drop=True)
            where[name] = f.column or name
        if name in typed_defaults:
            fill = typed_defaults[name]
            if name in cols:
                cols[name] = cols[name].where(cols[name].notna(), fill)
            else:
                cols[name] = pd.Series([fill] * n, index=index, dtype=object)
                where[name] = f"defaults['{name}']"

    # required identity
    if C.POST_ID not in cols:
        cols[C.POST_ID] = pd.Series([f"row-{r}" for r in ctx.raw.rows], index=index, dtype=object)
        where[C.POST_ID] = C.POST_ID
        ctx.add(
            None,
            C.POST_ID,
            "no post_id column: each row's ID was generated from its row number (row-2, row-3, …)",
            "add a post ID column (or map one with mapping={'post_id': ...}) to keep IDs stable",
            "warning",
        )
    if C.PLATFORM not in cols:
        cols[C.PLATFORM] = pd.Series(np.nan, index=index, dtype=object)
    empty_id = np.flatnonzero(cols[C.POST_ID].isna().to_numpy())
    if len(empty_id):
        ctx.add_rows(
            empty_id,
            where[C.POST_ID],
            ["the post ID is empty"] * len(empty_id),
            "give every row an ID (the post ID, or the ad/campaign name)",
        )
    if C.PLATFORM in where:
        seen = ctx.flagged.get(where[C.PLATFORM], set())
        empty_platform = np.array(
            [i for i in np.flatnonzero(cols[C.PLATFORM].isna().to_numpy()) if i not in seen],
            dtype=int,
        )
        if len(empty_platform):
            ctx.add_rows(
                empty_platform,
                where[C.PLATFORM],
                ["the platform is empty"] * len(empty_platform),
                "write facebook, instagram or tiktok, or pass defaults={'platform': ...} "
                "(--default platform=... on the command line)",
            )

    _check_rows(ctx, cols, where)
    frame = pd.DataFrame({k: v for k, v in cols.items()}, index=index)
    if not aggregate:
        _check_duplicates(ctx, frame, where[C.POST_ID])
    if ctx.problems:
        raise DataError(_in_file_order(ctx.problems), ctx.warnings)

    extra_frame = ctx.raw.frame.loc[:, list(extras)].reset_index(drop=True)
    extra_frame.columns = pd.Index(
        [f"{c} (source)" if c in C.CANONICAL_COLUMNS else c for c in extra_frame.columns]
    )
    flag_from_file = C.BOOSTED in fields and fields[C.BOOSTED].column is not None
    if aggregate:
        frame, extra_frame = _aggregate(ctx, frame, extra_frame)
    table = _typed(ctx, frame, extra_frame, flag_from_file, where.get(C.BOOSTED, C.BOOSTED))
    table.attrs["warnings"] = list(ctx.warnings)
    table.attrs["file"] = ctx.file
    return table


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Whole-file and whole-column problems first, then by row (stable within a row)."""
    return sorted(problems, key=lambda p: (p.row is not None, p.row or 0))


def _check_rows(ctx: Context, cols: dict[str, pd.Series], where: dict[str, str]) -> None:
    """Per-row checks that involve values (negative amounts, clicks vs impressions, ...)."""
    for name in C.NUMERIC_COLUMNS:
        if name not in cols:
            continue
        values = pd.to_numeric(cols[name], errors="coerce")
        neg = np.flatnonzero((values < 0).to_numpy())
        if len(neg):
            what = DESCRIPTIONS[name]
            fix = (
                "spend cannot be negative: check the sign (refunds do not belong here), or leave "
                "the cell empty if unknown"
                if name == C.SPEND
                else f"{what} cannot be negative: correct the value or leave the cell empty"
            )
            ctx.add_rows(
                neg,
                where[name],
                [f"{what} is negative ({values.iloc[i]:g})" for i in neg],
                fix,
            )

    def pair(hi: str, lo: str, message: str, fix: str, severity: Severity = "error") -> None:
        if hi not in cols or lo not in cols:
            return
        a = pd.to_numeric(cols[hi], errors="coerce")
        b = pd.to_numeric(cols[lo], errors="coerce")
        over = np.flatnonzero((a > b).to_numpy())
        if len(over):
            ctx.add_rows(
                over,
                where[hi],
                [message.format(a=a.iloc[i], b=b.iloc[i], col=where[lo]) for i in over],
                fix,
                severity,
            )

    pair(
        C.CLICKS,
        C.PAID_IMPRESSIONS,
        "clicks ({a:g}) exceed paid impressions ({b:g}, column '{col}')",
        "a click needs an impression: check both columns come from the same ad and date range "
        "(conversions may exceed clicks, clicks may not exceed impressions)",
    )
    pair(
        C.ORGANIC_ENGAGEMENTS,
        C.ORGANIC_IMPRESSIONS,
        "organic engagements ({a:g}) exceed organic impressions ({b:g}, column '{col}')",
        "check the two columns describe the same post; the row is kept",
        "warning",
    )
    pair(
        C.ORGANIC_REACH,
        C.ORGANIC_IMPRESSIONS,
        "organic reach ({a:g}) exceeds organic impressions ({b:g}, column '{col}')",
        "reach counts people, impressions count views, so reach is usually lower; the row is kept",
        "warning",
    )


def _check_duplicates(ctx: Context, frame: pd.DataFrame, column: str) -> None:
    """Report each row repeating an earlier (post_id, platform); rows missing either are skipped."""
    key = [C.POST_ID, C.PLATFORM]
    valid = frame[key].notna().all(axis=1)
    keys = frame.loc[valid, key]
    dup = keys.duplicated(keep="first")
    if not dup.any():
        return
    positions = np.flatnonzero(valid.to_numpy())
    first_pos = (
        pd.Series(positions, index=keys.index)
        .groupby([keys[C.POST_ID], keys[C.PLATFORM]], sort=False)
        .transform("first")
        .to_numpy()
    )
    pos = positions[dup.to_numpy()]
    firsts = first_pos[dup.to_numpy()]
    ctx.add_rows(
        pos,
        column,
        [
            f"post ID '{frame[C.POST_ID].iloc[i]}' appears again for {frame[C.PLATFORM].iloc[i]} "
            f"(first in row {ctx.raw.rows[f]})"
            for i, f in zip(pos, firsts, strict=True)
        ],
        "keep one row per post and platform (sum or drop the repeats), or give the posts "
        "distinct IDs",
    )


def _aggregate(
    ctx: Context, frame: pd.DataFrame, extras: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sum rows of the same post and platform (per-day or per-placement ad rows)."""
    key = [C.POST_ID, C.PLATFORM]
    if not frame.duplicated(key).any():
        return frame, extras
    groups = frame.groupby(key, sort=False)
    out = groups.size().rename("_n").to_frame()
    numeric = [c for c in C.NUMERIC_COLUMNS if c in frame.columns]
    if numeric:
        sums = groups[numeric].sum(min_count=1)
        out = out.join(sums)
    if C.POSTED_AT in frame.columns:
        out = out.join(
            pd.to_datetime(frame[C.POSTED_AT]).groupby([frame[C.POST_ID], frame[C.PLATFORM]]).min()
        )
    if C.FORMAT in frame.columns:
        fmt = frame[C.FORMAT].where(frame[C.FORMAT] != C.UNKNOWN_FORMAT)
        out = out.join(fmt.groupby([frame[C.POST_ID], frame[C.PLATFORM]], sort=False).first())
    if C.BOOSTED in frame.columns:
        flag = pd.to_numeric(frame[C.BOOSTED], errors="coerce")
        out = out.join(flag.groupby([frame[C.POST_ID], frame[C.PLATFORM]], sort=False).max())
    merged = out.reset_index().drop(columns="_n")
    kept_extras = pd.DataFrame(index=merged.index)
    if len(extras.columns):
        ex = extras.copy()
        ex[C.POST_ID] = frame[C.POST_ID].to_numpy()
        ex[C.PLATFORM] = frame[C.PLATFORM].to_numpy()
        g = ex.groupby(key, sort=False)
        varying = g.nunique(dropna=True).max()
        keep = [c for c in extras.columns if varying[c] <= 1]
        dropped = [c for c in extras.columns if varying[c] > 1]
        if keep:
            kept_extras = g[keep].first().reset_index(drop=True)
        if dropped:
            ctx.add(
                None,
                ", ".join(dropped),
                f"{len(frame)} rows were summed into {len(merged)} posts; columns whose values "
                "differ between the rows of one post were dropped",
                "export without a per-day breakdown to keep them, or ignore this if they are rates "
                "(CPM, CTR, frequency)",
                "warning",
            )
    return merged, kept_extras


def _typed(
    ctx: Context,
    frame: pd.DataFrame,
    extras: pd.DataFrame,
    flag_from_file: bool,
    flag_column: str,
) -> pd.DataFrame:
    """Canonical columns in order with canonical dtypes, then the extras."""
    n = len(frame)
    out: dict[str, pd.Series] = {}
    for name in C.CANONICAL_COLUMNS:
        if name in frame.columns:
            s = frame[name].reset_index(drop=True)
        else:
            s = pd.Series(np.nan, index=pd.RangeIndex(n), dtype=object)
        if name == C.FORMAT:
            s = s.fillna(C.UNKNOWN_FORMAT)
        if name == C.BOOSTED:
            continue
        if DTYPES[name] == "float64":
            out[name] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif DTYPES[name] == "datetime64[ns]":
            out[name] = pd.to_datetime(s).astype("datetime64[ns]")
        else:
            out[name] = s.astype("str")
    spend = out[C.SPEND]
    flag = (
        pd.to_numeric(frame[C.BOOSTED], errors="coerce").reset_index(drop=True)
        if C.BOOSTED in frame.columns
        else pd.Series(np.nan, index=pd.RangeIndex(n))
    )
    boosted = (spend > 0).where(spend.notna(), flag > 0)
    if flag_from_file:
        unknown = np.flatnonzero((spend.isna() & flag.isna()).to_numpy())
        if len(unknown) and n == len(ctx):
            ctx.add_rows(
                unknown,
                flag_column,
                ["the paid flag is empty and there is no spend: treated as not boosted"]
                * len(unknown),
                "fill in the flag (1 = boosted, 0 = organic) if you know it",
                "warning",
            )
    out[C.BOOSTED] = boosted.fillna(False).astype(bool)
    table = pd.DataFrame(out)
    for col in extras.columns:
        table[col] = _extra(extras[col].reset_index(drop=True), col, ctx.raw.decimal)
    return table


def _extra(values: pd.Series, name: str, decimal: str) -> pd.Series:
    """An extra column: numbers when every value is one, else text (``str``; IDs stay text)."""
    if not (
        pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)
    ):
        return values
    text = values.astype("str")
    if normalise_header(name).endswith("id") or values.notna().sum() == 0:
        return text
    numbers, bad = parse_numbers(values, decimal)
    if bad.any() or numbers.notna().sum() == 0 or (numbers.abs() >= 2**53).any():
        return text
    return numbers
