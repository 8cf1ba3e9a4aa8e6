"""Post table -> the arrays the boost model reads.

:func:`make_features` checks a canonical post table (see :mod:`amplify.constants`), encodes
platforms, formats
and segments as integer codes, turns counts into empirical logits with their sampling variances,
and lists
which rows feed which stage of the funnel (organic, shares, impressions, clicks, conversions,
revenue).
Organic columns are optional per row; a row with only spend/impressions/clicks/conversions still
feeds the
paid stages. The same encoding (``Levels``) is reused for new posts at prediction time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplify import constants as C
from amplify.errors import DataError, Problem
from amplify.model.transforms import binomial_logit_moments, empirical_logit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Auto-detected segment columns have between 2 and this many distinct values.
MAX_SEGMENT_LEVELS = 30


@dataclass(frozen=True)
class Levels:
    """Category encodings learned at fit time: platforms, formats, segment columns and levels."""

    platforms: tuple[str, ...]
    formats: tuple[str, ...]
    segments: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {
            "platforms": list(self.platforms),
            "formats": list(self.formats),
            "segments": {k: list(v) for k, v in self.segments.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Levels:
        """Inverse of :meth:`to_dict`."""
        segs = d.get("segments", {})
        assert isinstance(segs, Mapping)
        return cls(
            platforms=tuple(d["platforms"]),  # type: ignore[arg-type]
            formats=tuple(d["formats"]),  # type: ignore[arg-type]
            segments={str(k): tuple(v) for k, v in segs.items()},
        )


@dataclass(frozen=True)
class Features:
    """Model arrays for one post table (length ``n`` unless noted).

    ``platform``/``format``/``segment`` are integer codes (-1 = level unseen at fit time). ``y_n``
    is the log
    of organic impressions; ``y_*``/``v_*`` are empirical logits and their sampling variances (0
    where
    missing, with ``has_*`` masks); the shares logit ``y_s`` is bias-corrected (see
    :func:`_shares_logit`). The ``idx_*`` arrays list the rows feeding each likelihood stage.
    """

    post_id: NDArray[np.object_]
    platform: IntArray
    format: IntArray
    segment: dict[str, IntArray]
    spend: FloatArray
    paid_impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    revenue: FloatArray
    y_n: FloatArray
    has_n: FloatArray
    y_o: FloatArray
    v_o: FloatArray
    has_o: FloatArray
    y_s: FloatArray
    v_s: FloatArray
    has_s: FloatArray
    y_c: FloatArray
    v_c: FloatArray
    boosted: NDArray[np.bool_]
    idx_o: IntArray
    idx_s: IntArray
    idx_imp: IntArray
    idx_c: IntArray
    idx_conv: IntArray
    idx_rev: IntArray

    @property
    def n(self) -> int:
        """Number of posts."""
        return len(self.post_id)


def canonical_platform(name: object) -> str:
    """Canonical platform name for a spelling seen in exports (unknown names are lower-cased)."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    return C.PLATFORM_ALIASES.get(key, str(name).strip().lower())


def detect_segments(posts: pd.DataFrame) -> tuple[str, ...]:
    """Extra text columns with 2..``MAX_SEGMENT_LEVELS`` levels, usable as segments."""
    out = []
    for col in posts.columns:
        if col in C.CANONICAL_COLUMNS:
            continue
        s = posts[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        n_levels = s.dropna().nunique()
        if 2 <= n_levels <= MAX_SEGMENT_LEVELS and n_levels <= max(2, len(s) // 5):
            out.append(str(col))
    return tuple(out)


def learn_levels(posts: pd.DataFrame, segments: Sequence[str]) -> Levels:
    """Category levels of a training table (platforms in canonical order, then the others)."""
    _check_columns(posts, segments)
    plats = {canonical_platform(p) for p in posts[C.PLATFORM]}
    ordered = [p for p in C.PLATFORMS if p in plats] + sorted(plats - set(C.PLATFORMS))
    fmts = sorted(set(_format_column(posts)))
    segs = {s: tuple(sorted(set(_segment_column(posts, s)))) for s in segments}
    return Levels(platforms=tuple(ordered), formats=tuple(fmts), segments=segs)


def make_features(posts: pd.DataFrame, levels: Levels, *, source: str = "<DataFrame>") -> Features:
    """Encode a post table with the given levels and check its numbers.

    Parameters
    ----------
    posts
        Canonical post table (one row per post). Missing optional columns are treated as empty.
    levels
        Encodings from :func:`learn_levels` (at fit time) or from the fitted model (at predict
        time).
    source
        Name used in error messages (e.g. the file the table came from).

    Raises
    ------
    amplify.errors.DataError
        On missing required columns, non-numbers, negative counts, or impossible combinations
        (clicks > impressions, engagements > organic impressions, shares > engagements), naming
        each row
        (index label) and column.
    """
    _check_columns(posts, tuple(levels.segments), source=source)
    problems: list[Problem] = []
    num = {c: _numeric(posts, c, source, problems) for c in C.NUMERIC_COLUMNS}
    with np.errstate(invalid="ignore"):
        for c in C.NUMERIC_COLUMNS:
            _check(
                num[c] < 0,
                posts,
                c,
                f"{c} is negative",
                "counts and money are >= 0",
                source,
                problems,
            )
        _check(
            num[C.CLICKS] > num[C.PAID_IMPRESSIONS],
            posts,
            C.CLICKS,
            "clicks exceed paid_impressions",
            "check that the clicks and impressions columns are not swapped",
            source,
            problems,
        )
        _check(
            num[C.ORGANIC_ENGAGEMENTS] > num[C.ORGANIC_IMPRESSIONS],
            posts,
            C.ORGANIC_ENGAGEMENTS,
            "organic_engagements exceed organic_impressions",
            "map the impressions column (not reach or followers) to organic_impressions",
            source,
            problems,
        )
        _check(
            num[C.ORGANIC_SHARES] > num[C.ORGANIC_ENGAGEMENTS],
            posts,
            C.ORGANIC_SHARES,
            "organic_shares exceed organic_engagements",
            "engagements must include shares (likes + comments + shares + saves)",
            source,
            problems,
        )
    if problems:
        raise DataError(problems)
    plat_pos = {p: i for i, p in enumerate(levels.platforms)}
    platform = np.array([plat_pos.get(canonical_platform(p), -1) for p in posts[C.PLATFORM]])
    fmt_pos = {f: i for i, f in enumerate(levels.formats)}
    fmt = np.array([fmt_pos.get(f, -1) for f in _format_column(posts)], dtype=np.int64)
    segment = {
        s: np.array(
            [{v: i for i, v in enumerate(lv)}.get(v, -1) for v in _segment_column(posts, s)],
            dtype=np.int64,
        )
        for s, lv in levels.segments.items()
    }

    oi, eng, sh = num[C.ORGANIC_IMPRESSIONS], num[C.ORGANIC_ENGAGEMENTS], num[C.ORGANIC_SHARES]
    has_n = np.isfinite(oi) & (oi > 0)
    has_o = has_n & np.isfinite(eng)
    has_s = has_o & np.isfinite(sh) & (eng > 0)
    spend, impr, clicks = num[C.SPEND], num[C.PAID_IMPRESSIONS], num[C.CLICKS]
    conv, rev = num[C.CONVERSIONS], num[C.REVENUE]
    boosted = _boosted(posts, spend, impr)
    has_imp = boosted & np.isfinite(spend) & (spend > 0) & np.isfinite(impr) & (impr > 0)
    has_c = boosted & np.isfinite(impr) & (impr > 0) & np.isfinite(clicks)
    has_conv = has_c & np.isfinite(conv)
    has_rev = has_conv & (conv > 0) & np.isfinite(rev) & (rev > 0)

    with np.errstate(invalid="ignore", divide="ignore"):
        y_o, v_o = empirical_logit(eng, oi)
        y_s, v_s = _shares_logit(sh, eng, platform, has_s)
        y_c, v_c = empirical_logit(clicks, impr)

    def fill(a: FloatArray, mask: NDArray[np.bool_], value: float) -> FloatArray:
        return np.where(mask, a, value).astype(float)

    return Features(
        post_id=posts[C.POST_ID].astype(str).to_numpy(dtype=object),
        platform=platform.astype(np.int64),
        format=fmt,
        segment=segment,
        spend=fill(spend, np.isfinite(spend), 0.0),
        paid_impressions=impr,
        clicks=clicks,
        conversions=conv,
        revenue=rev,
        y_n=fill(np.log(np.where(has_n, oi, 1.0)), has_n, 0.0),
        has_n=has_n.astype(float),
        y_o=fill(y_o, has_o, 0.0),
        v_o=fill(v_o, has_o, 1.0),
        has_o=has_o.astype(float),
        y_s=fill(y_s, has_s, 0.0),
        v_s=fill(v_s, has_s, 1.0),
        has_s=has_s.astype(float),
        y_c=fill(y_c, has_c, 0.0),
        v_c=fill(v_c, has_c, 1.0),
        boosted=boosted,
        idx_o=np.flatnonzero(has_o),
        idx_s=np.flatnonzero(has_s),
        idx_imp=np.flatnonzero(has_imp),
        idx_c=np.flatnonzero(has_c),
        idx_conv=np.flatnonzero(has_conv),
        idx_rev=np.flatnonzero(has_rev),
    )


def _shares_logit(
    shares: FloatArray, eng: FloatArray, platform: IntArray, has_s: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Shares-per-engagement indicator: bias-corrected empirical logit and its exact variance.

    Posts have few shares (often under 10), where the plain empirical logit with its observed-count
    variance is biased, and more so after inverse-variance weighting (posts with more shares get
    the smaller variance). Here the logit is shifted by its exact small-count bias and given its
    exact variance, both under ``Binomial(engagements, platform share rate)``
    (:func:`amplify.model.transforms.binomial_logit_moments`). The reference rate is the
    platform's pooled share rate in this table (so it does not depend on any one post), shrunk
    towards 10% by 10 pseudo-engagements: a small table (a few posts to score, none shared) still
    gets a rate inside (0, 1) and so a variance away from zero.
    """
    y, _ = empirical_logit(shares, eng)
    v = np.ones_like(y)
    for g in np.unique(platform[has_s]):
        rows = has_s & (platform == g)
        rate = (shares[rows].sum() + 1.0) / (eng[rows].sum() + 10.0)
        mean, var = binomial_logit_moments(eng[rows], rate)
        y[rows] = y[rows] - (mean - np.log(rate / (1.0 - rate)))
        v[rows] = var
    return y, v


def _check_columns(
    posts: pd.DataFrame, segments: Sequence[str], source: str = "<DataFrame>"
) -> None:
    if not isinstance(posts, pd.DataFrame):
        raise TypeError(f"{source}: expected a pandas DataFrame, got {type(posts).__name__}")
    problems = [
        Problem(
            source,
            None,
            col,
            f"column {col!r} is missing (columns present: {list(posts.columns)})",
            "add the column or map it when loading",
        )
        for col in (*C.REQUIRED_COLUMNS, *segments)
        if col not in posts.columns
    ]
    if not problems:
        empty = posts[C.PLATFORM].isna().to_numpy()
        problems = [
            Problem(source, posts.index[i], C.PLATFORM, "platform is empty", "fill in the platform")
            for i in np.flatnonzero(empty)[:20]
        ]
    if problems:
        raise DataError(problems)


def _numeric(posts: pd.DataFrame, col: str, source: str, problems: list[Problem]) -> FloatArray:
    if col not in posts.columns:
        return np.full(len(posts), np.nan)
    values = pd.to_numeric(posts[col], errors="coerce")
    bad = (values.isna() & posts[col].notna()).to_numpy()
    for i in np.flatnonzero(bad)[:20]:
        problems.append(
            Problem(
                source,
                posts.index[i],
                col,
                f"{posts[col].iloc[i]!r} is not a number",
                "use plain numbers (no currency signs or thousands separators)",
            )
        )
    return values.to_numpy(dtype=float)


def _check(
    bad: NDArray[np.bool_],
    posts: pd.DataFrame,
    col: str,
    what: str,
    fix: str,
    source: str,
    problems: list[Problem],
) -> None:
    for i in np.flatnonzero(np.asarray(bad, dtype=bool))[:20]:
        pid = posts[C.POST_ID].iloc[i]
        problems.append(Problem(source, posts.index[i], col, f"post {pid!r}: {what}", fix))


def _format_column(posts: pd.DataFrame) -> list[str]:
    if C.FORMAT not in posts.columns:
        return [C.UNKNOWN_FORMAT] * len(posts)
    return [
        C.UNKNOWN_FORMAT
        if (v is None or (isinstance(v, float) and np.isnan(v)))
        else str(v).lower()
        for v in posts[C.FORMAT].tolist()
    ]


def _segment_column(posts: pd.DataFrame, col: str) -> list[str]:
    return ["unknown" if pd.isna(v) else str(v) for v in posts[col].tolist()]


def _boosted(posts: pd.DataFrame, spend: FloatArray, impr: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        out = (np.nan_to_num(spend) > 0) | (np.nan_to_num(impr) > 0)
    if C.BOOSTED in posts.columns:
        flag = posts[C.BOOSTED].fillna(False).astype(bool).to_numpy()
        out = out | flag
    return np.asarray(out, dtype=bool)
