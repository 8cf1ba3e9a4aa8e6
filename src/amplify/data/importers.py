"""Importers: real exports (Meta Ads Manager, Meta Business Suite, TikTok Ads Manager) or any CSV
with a column mapping -> the canonical post table.

:func:`load` is the entry point. Each importer only decides which file column feeds which canonical
column (headers are matched without regard to case, so 2019 title-case and 2021 capitalised exports
work too, and a currency in parentheses such as ``Amount spent (EUR)`` is accepted); parsing and
checking happen in :mod:`amplify.data.validate`, so every source reports problems the same way. The
header variants are those listed in ``shared/data/EXPORT_HEADERS.md``; translated headers beyond
French and the Arabic ones listed there are best guesses.

Ad exports (Meta Ads Manager, TikTok Ads Manager) are sums over ads: per-day or per-placement rows
of the same ad are added up into one row per post, ``posted_at`` is the first day with delivery
(when the export has a per-day breakdown), and ``boosted`` follows spend. Organic exports (Meta
Business Suite) give one row per post.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Final, Literal

import numpy as np
import pandas as pd

from amplify import constants as C
from amplify.data.readers import RawTable, from_frame, read_csv
from amplify.data.schema import normalise_format, normalise_header, normalise_platform
from amplify.data.validate import Context, Field, did_you_mean, finish

Source = Literal["generic", "meta", "meta_organic", "tiktok", "auto"]
#: Importers by name (``"auto"`` picks one of these from the header).
SOURCES: Final[tuple[str, ...]] = ("generic", "meta", "meta_organic", "tiktok")
SOURCE_LABELS: Final[dict[str, str]] = {
    "generic": "generic CSV",
    "meta": "Meta Ads Manager",
    "meta_organic": "Meta Business Suite (organic posts)",
    "tiktok": "TikTok Ads Manager",
}

_CUR = r"(\s*\(.*\))?"  # optional currency in parentheses: "Amount spent (USD)"

# --- header variants ------------------------------------------------------------------------------
META_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "ad_name": (
        r"ad name",
        r"nom de la publicité",
        r"nombre del anuncio",
        r"anzeigenname",
        r"nome do anúncio",
        r"اسم الإعلان",
    ),
    "adset_name": (
        r"ad set name",
        r"nom de l'ensemble de publicités",
        r"nombre del conjunto de anuncios",
        r"name der anzeigengruppe",
        r"nome do conjunto de anúncios",
        r"اسم مجموعة الإعلانات",
    ),
    "campaign_name": (
        r"campaign name",
        r"nom de la campagne",
        r"nombre de la campaña",
        r"kampagnenname",
        r"nome da campanha",
        r"اسم الحملة",
    ),
    "spend": (
        r"amount spent" + _CUR,
        r"montant dépensé" + _CUR,
        r"importe gastado" + _CUR,
        r"ausgegebener betrag" + _CUR,
        r"valor (usado|gasto)" + _CUR,
        r"المبلغ الذي تم إنفاقه" + _CUR,
    ),
    "impressions": (r"impressions", r"impresiones", r"impressionen", r"impressões", r"مرات الظهور"),
    "link_clicks": (
        r"link clicks",
        r"clics sur (un|le) lien",
        r"clics en el enlace",
        r"link-klicks",
        r"cliques no link",
        r"النقرات على الرابط",
    ),
    "clicks_all": (
        r"clicks \(all\)",
        r"clics \(tous\)",
        r"clics \(todos\)",
        r"klicks \(alle\)",
        r"cliques \(todos\)",
    ),
    "purchases": (
        r"purchases",
        r"website purchases",
        r"direct website purchases",
        r"meta pixel purchases",
        r"achats",
        r"achats sur le site web",
        r"compras",
        r"käufe",
    ),
    "results": (r"results", r"résultats", r"resultados", r"ergebnisse", r"النتائج"),
    "result_indicator": (
        r"result indicator",
        r"indicateur de résultats?",
        r"indicador de resultados?",
        r"ergebnisindikator",
        r"مؤشر النتائج",
    ),
    "leads": (r"leads", r"prospects", r"clientes potenciales"),
    "revenue": (
        r".*purchases? conversion value" + _CUR,
        r"valeur de conversion des achats.*",
        r".*conversion value" + _CUR,
        r"results value" + _CUR,
    ),
    "day": (r"day", r"date", r"jour", r"día", r"dia", r"tag", r"اليوم"),
    "starts": (
        r"reporting starts",
        r"début des rapports",
        r"inicio del informe",
        r"berichtsbeginn",
        r"início dos relatórios",
        r"بداية التقارير",
    ),
    "ends": (
        r"reporting ends",
        r"fin des rapports",
        r"fin del informe",
        r"berichtsende",
        r"término dos relatórios",
        r"نهاية التقارير",
    ),
    "platform": (r"platform", r"plateforme", r"plataforma", r"plattform", r"publisher platform"),
    "placement": (r"placement", r"emplacement", r"ubicación", r"platzierung", r"posicionamento"),
}

TIKTOK_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "ad_name": (r"ad name",),
    "adgroup_name": (r"ad group name",),
    "campaign_name": (r"campaign name",),
    "spend": (r"cost", r"spend", r"cost" + _CUR, r"spend" + _CUR, r"total cost" + _CUR),
    "impressions": (r"impressions", r"impression"),
    "clicks": (r"clicks \(destination\)", r"clicks", r"clicks \(all\)"),
    "conversions": (
        r"conversions",
        r"total conversions",
        r"complete payment",
        r"purchases?",
    ),
    "revenue": (
        r"total complete payment value" + _CUR,
        r"complete payment value" + _CUR,
        r"total conversion value" + _CUR,
        r"total purchase value" + _CUR,
        r"purchase value" + _CUR,
        r"conversion value" + _CUR,
    ),
    "day": (r"by day", r"date", r"day", r"stat time day"),
}

ORGANIC_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "post_id": (r"post id", r"video asset id", r"media id"),
    "published": (r"publish time", r"published time", r"published", r"post time", r"posted"),
    "post_type": (r"post type", r"media type", r"type"),
    "views": (r"views", r"impressions"),
    "reach": (r"reach",),
    "likes": (r"likes", r"reactions"),
    "comments": (r"comments",),
    "shares": (r"shares",),
    "saves": (r"saves",),
    "engagements": (r"reactions, comments and shares", r"engagements?", r"interactions"),
    "platform": (r"platform",),
    "instagram_hint": (r"account username", r"account id", r"account name"),
    "facebook_hint": (r"page id", r"page name"),
}

#: Meta delivery platforms that are not one of amplify's platforms: their rows are set aside.
_OTHER_META_PLATFORMS: Final[frozenset[str]] = frozenset(
    {"audiencenetwork", "audience", "messenger", "threads", "whatsapp", "oculus", "unknown"}
)
#: ``Result indicator`` values that count conversions (purchases, leads, registrations, ...).
_CONVERSION_RESULT = re.compile(
    r"purchase|lead|conversion|complete_registration|subscribe|app_install|submit_application|"
    r"start_trial|schedule|contact|add_to_cart|checkout",
    re.IGNORECASE,
)
_NAME_PLATFORM = re.compile(
    r"^\W*(instagram|facebook|insta|ig|fb)\b(?:\s+(reel|video|photo|image|carousel|story))?",
    re.IGNORECASE,
)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _fold(header: str) -> str:
    return " ".join(str(header).casefold().replace("’", "'").split())


def find_header(
    headers: list[str], patterns: tuple[str, ...], exclude: set[str] | None = None
) -> str | None:
    """The first header fully matching one of ``patterns`` (case-insensitive), in pattern order."""
    exclude = exclude or set()
    folded = [(h, _fold(h)) for h in headers if h not in exclude]
    for pattern in patterns:
        rx = re.compile(pattern, re.IGNORECASE)
        for header, f in folded:
            if rx.fullmatch(f):
                return header
    return None


def sniff_source(headers: list[str]) -> str:
    """Guess the export a header comes from: ``meta``, ``meta_organic``, ``tiktok`` or ``generic``.

    A file that already has ``post_id`` and ``platform`` columns is ``"generic"``.
    """
    norm = {normalise_header(h) for h in headers}
    if {"postid", "platform"} <= norm:
        return "generic"

    def has(table: Mapping[str, tuple[str, ...]], *keys: str) -> bool:
        return any(find_header(headers, table[k]) is not None for k in keys)

    if has(META_HEADERS, "spend", "result_indicator", "starts", "link_clicks"):
        return "meta"
    tiktok_only = {
        "specific": (
            r"ad group name",
            r"clicks \(destination\)",
            r"by day",
            r"impression",
            r"complete payment",
            r"total complete payment value",
        ),
        "spend": TIKTOK_HEADERS["spend"],
        "names": (r"ad name", r"campaign name"),
    }
    if has(tiktok_only, "specific") or (has(tiktok_only, "spend") and has(tiktok_only, "names")):
        return "tiktok"
    if has(ORGANIC_HEADERS, "published") or (
        has(ORGANIC_HEADERS, "post_type") and "postid" in norm
    ):
        return "meta_organic"
    return "generic"


# --------------------------------------------------------------------------------------------------
# entry point


def load(
    path_or_frame: str | os.PathLike[str] | pd.DataFrame,
    *,
    source: Source = "generic",
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Load a post table from a CSV export or a DataFrame, validated.

    Parameters
    ----------
    path_or_frame : str, path-like or pandas.DataFrame
        A CSV file (any of the supported exports) or an in-memory table.
    source : {"generic", "meta", "meta_organic", "tiktok", "auto"}
        Which export it is. ``"generic"`` expects the canonical column names (any case/spacing) plus
        ``mapping``; ``"auto"`` guesses from the header (:func:`sniff_source`).
    mapping : mapping of str to str, optional
        Canonical column -> file header, e.g. ``{"spend": "Spent", "conversions":
        "Total_Conversion"}``. Overrides what the importer would pick.
    defaults : mapping of str to object, optional
        Values for canonical columns that are absent or empty, e.g. ``{"platform": "facebook"}``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`amplify.constants.CANONICAL_COLUMNS` in order, then extra columns from the
        file. ``attrs["warnings"]`` holds non-fatal :class:`~amplify.errors.Problem` s,
        ``attrs["source"]`` the importer used, ``attrs["file"]`` the file name.

    Raises
    ------
    DataError
        Listing every problem found (file, row, column, what to fix).
    ValueError
        For an unknown ``source``.
    """
    raw = (
        from_frame(path_or_frame)
        if isinstance(path_or_frame, pd.DataFrame)
        else read_csv(path_or_frame)
    )
    chosen = sniff_source(raw.headers) if source == "auto" else source
    if chosen not in IMPORTERS:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join((*SOURCES, 'auto'))}")
    table = IMPORTERS[chosen](raw, dict(mapping or {}), dict(defaults or {}))
    table.attrs["source"] = chosen
    return table


# --------------------------------------------------------------------------------------------------
# shared pieces


def _resolve_mapping(ctx: Context, mapping: Mapping[str, str]) -> dict[str, str]:
    """Check the user's canonical -> header mapping against the file; report bad keys/headers."""
    headers = ctx.raw.headers
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), h)
    resolved: dict[str, str] = {}
    for canonical, header in mapping.items():
        if canonical not in C.CANONICAL_COLUMNS:
            hint = did_you_mean(canonical, C.CANONICAL_COLUMNS)
            ctx.add(
                None,
                f"mapping['{canonical}']",
                f"'{canonical}' is not a column of the post table"
                + (f"; did you mean '{hint[0]}'?" if hint else ""),
                "map one of: " + ", ".join(C.CANONICAL_COLUMNS),
            )
            continue
        if header in headers:
            resolved[canonical] = header
        elif normalise_header(header) in by_norm:
            resolved[canonical] = by_norm[normalise_header(header)]
        else:
            hint = did_you_mean(header, headers)
            ctx.add(
                None,
                header,
                f"the mapping {canonical}='{header}' names a column the file does not have"
                + (f"; did you mean '{hint[0]}'?" if hint else ""),
                "use a header exactly as in the file's first row: " + _list(headers),
            )
    return resolved


def _mapped_fields(ctx: Context, user: Mapping[str, str]) -> tuple[dict[str, Field], set[str]]:
    """The fields of the user's resolved mapping, and the headers they use."""
    used: set[str] = set(user.values())
    fields: dict[str, Field] = {c: ctx.field(c, h) for c, h in user.items()}
    return fields, used


def _taker(
    ctx: Context,
    patterns: Mapping[str, tuple[str, ...]],
    fields: dict[str, Field],
    used: set[str],
) -> Callable[[str, str], str | None]:
    """``take(key, canonical)``: unless ``canonical`` already has a field, the first unused header
    matching ``patterns[key]`` becomes it (and is marked used); returns that header, else None."""
    headers = ctx.raw.headers

    def take(key: str, canonical: str) -> str | None:
        if canonical in fields:
            return None
        header = find_header(headers, patterns[key], exclude=used)
        if header is not None:
            fields[canonical] = ctx.field(canonical, header)
            used.add(header)
        return header

    return take


def _list(headers: list[str], limit: int = 12) -> str:
    shown = ", ".join(f"'{h}'" for h in headers[:limit])
    return shown + (f" and {len(headers) - limit} more" if len(headers) > limit else "")


def _missing_column(
    ctx: Context,
    canonical: str,
    expected: str,
    fix: str,
    candidates: list[str],
    cutoff: float = 0.6,
) -> None:
    hint = did_you_mean(canonical, candidates, cutoff=cutoff)
    guess = f"; did you mean '{hint[0]}'?" if hint else ""
    ctx.add(None, canonical, f"missing required column {expected}{guess}", fix)


def _numbers_sum(ctx: Context, headers: list[str], canonical: str) -> Field:
    """Row-wise sum of several count columns; NaN only where all of them are missing."""
    parts = [ctx.numbers(h, canonical) for h in headers]
    total = pd.concat(parts, axis=1).sum(axis=1, min_count=1)
    return Field(total, " + ".join(headers))


def _drop_rows(raw: RawTable, drop: np.ndarray) -> None:
    keep = ~drop
    raw.frame = raw.frame.loc[keep].reset_index(drop=True)
    raw.rows = raw.rows[keep]


# --------------------------------------------------------------------------------------------------
# generic


def import_generic(
    raw: RawTable, mapping: Mapping[str, str], defaults: Mapping[str, object]
) -> pd.DataFrame:
    """A CSV whose headers are the canonical names (any case/spacing), plus the user's ``mapping``.

    A missing ``post_id`` column is generated from row numbers (with a warning) unless a header
    looks like a misspelling of it, which is reported instead. A missing ``platform`` needs
    ``defaults["platform"]``.
    """
    ctx = Context(raw)
    headers = raw.headers
    resolved = _resolve_mapping(ctx, mapping)
    used = set(resolved.values())
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), h)
    for canonical in C.CANONICAL_COLUMNS:
        match = by_norm.get(normalise_header(canonical))
        if canonical not in resolved and match is not None and match not in used:
            resolved[canonical] = match
            used.add(match)
    unused = [h for h in headers if h not in used]
    sniffed = sniff_source(headers)
    looks_like = (
        f" This looks like a {SOURCE_LABELS[sniffed]} export: use source='{sniffed}' "
        f"(--source {sniffed})."
        if sniffed != "generic"
        else ""
    )
    if (
        C.POST_ID not in resolved
        and C.POST_ID not in defaults
        and did_you_mean(C.POST_ID, unused, cutoff=0.75)
    ):
        _missing_column(
            ctx,
            C.POST_ID,
            "'post_id'",
            "rename the column to post_id, or map it: mapping={'post_id': '<header>'} "
            "(--map post_id=<header>)." + looks_like,
            unused,
            cutoff=0.75,
        )
    if C.PLATFORM not in resolved and C.PLATFORM not in defaults:
        _missing_column(
            ctx,
            C.PLATFORM,
            "'platform'",
            "add a platform column (facebook, instagram or tiktok), map one with "
            "mapping={'platform': '<header>'} (--map platform=<header>), or set it for every row "
            "with defaults={'platform': 'facebook'} (--default platform=facebook)." + looks_like,
            unused,
        )
    fields = {c: ctx.field(c, h) for c, h in resolved.items()}
    extras = [h for h in headers if h not in used]
    return finish(ctx, fields, extras, defaults=defaults, aggregate=False)


# --------------------------------------------------------------------------------------------------
# Meta Ads Manager


def import_meta(
    raw: RawTable, mapping: Mapping[str, str], defaults: Mapping[str, object]
) -> pd.DataFrame:
    """A Meta Ads Manager "Export table data" CSV (campaign, ad set or ad level; any currency).

    ``post_id`` is the ad name, else the ad set name, else the campaign name. The platform comes
    from a ``Platform``/``Placement`` breakdown column, else from a name such as ``Instagram post:
    ...``, else ``defaults["platform"]``, else facebook (with a warning). Rows delivered on Audience
    Network, Messenger or Threads are set aside with a warning. Conversions are a purchases column,
    else ``Results`` where ``Result indicator`` names a conversion event, else ``Leads``; revenue is
    the matching ``... conversion value``.
    """
    H = META_HEADERS
    headers = raw.headers
    ctx = Context(raw)
    user = _resolve_mapping(ctx, mapping)

    # Set aside rows on Meta platforms amplify does not model (before parsing: rows stay aligned).
    platform_col = None if C.PLATFORM in user else find_header(headers, H["platform"])
    placement_col = None if C.PLATFORM in user else find_header(headers, H["placement"])
    breakdown = platform_col or placement_col
    if breakdown is not None:
        first_word = (
            raw.frame[breakdown]
            .astype(object)
            .map(lambda v: re.split(r"[\s_]+", str(v).strip().casefold())[0], na_action="ignore")
        )
        other = first_word.isin(_OTHER_META_PLATFORMS).to_numpy()
        if other.any():
            others = sorted({str(v) for v in raw.frame.loc[other, breakdown]})
            rows = [int(r) for r in raw.rows[other]]
            _drop_rows(raw, other)
            ctx.add(
                rows[0] if len(rows) == 1 else None,
                breakdown,
                f"{_n(len(rows), 'row')} on {', '.join(others)} set aside "
                "(not facebook, instagram or tiktok)"
                + (f": rows {', '.join(map(str, rows[:10]))}" + (", …" if len(rows) > 10 else "")),
                "",
                "warning",
            )

    fields, used = _mapped_fields(ctx, user)
    take = _taker(ctx, H, fields, used)

    # identity
    names = {k: find_header(headers, H[k]) for k in ("ad_name", "adset_name", "campaign_name")}
    if C.POST_ID not in fields:
        id_col = names["ad_name"] or names["adset_name"] or names["campaign_name"]
        if id_col is None:
            _missing_column(
                ctx,
                C.POST_ID,
                "'Ad name', 'Ad set name' or 'Campaign name'",
                "export with the Ad name (or Campaign name) column, or map one: "
                "mapping={'post_id': '<header>'} (--map post_id=<header>)",
                headers,
            )
        else:
            fields[C.POST_ID] = ctx.field(C.POST_ID, id_col)
            used.add(id_col)

    # platform (and format hints from names such as "Instagram reel: ...")
    name_cols = [h for h in (names["ad_name"], names["adset_name"], names["campaign_name"]) if h]
    from_names = pd.Series(np.nan, index=raw.frame.index, dtype=object)
    format_from_names = pd.Series(np.nan, index=raw.frame.index, dtype=object)
    for h in name_cols:
        found = raw.frame[h].astype(object).map(_name_platform, na_action="ignore")
        plat = found.map(lambda t: t[0] if isinstance(t, tuple) else np.nan)
        fmt = found.map(lambda t: t[1] if isinstance(t, tuple) else np.nan)
        from_names = from_names.where(from_names.notna(), plat)
        format_from_names = format_from_names.where(format_from_names.notna(), fmt)
    if C.PLATFORM not in fields:
        if breakdown is not None:
            values = (
                raw.frame[breakdown]
                .astype(object)
                .map(lambda v: re.split(r"[\s_]+", str(v).strip())[0], na_action="ignore")
            )
            fields[C.PLATFORM] = Field(ctx.platforms(values, breakdown), breakdown)
            used.add(breakdown)
        else:
            platform = from_names
            missing = platform.isna().to_numpy()
            if missing.any() and C.PLATFORM not in defaults:
                platform = platform.fillna(C.FACEBOOK)
                ctx.add(
                    None,
                    C.PLATFORM,
                    f"{int(missing.sum())} of {len(missing)} rows do not say which platform they "
                    "ran on: "
                    "assumed facebook",
                    "export with the 'Platform' breakdown (Breakdown > By delivery > Platform), "
                    "or pass "
                    "defaults={'platform': 'instagram'} (--default platform=instagram)",
                    "warning",
                )
            fields[C.PLATFORM] = Field(platform, name_cols[0] if name_cols else None)
    if C.FORMAT not in fields and format_from_names.notna().any():
        fields[C.FORMAT] = Field(format_from_names.map(normalise_format, na_action="ignore"), None)

    # money and counts
    take("spend", C.SPEND)
    take("impressions", C.PAID_IMPRESSIONS)
    if take("link_clicks", C.CLICKS) is None:
        take("clicks_all", C.CLICKS)
    conv_col = None
    if C.CONVERSIONS not in fields:
        conv_col = take("purchases", C.CONVERSIONS)
        if conv_col is None:
            conv_col = _meta_results(ctx, headers, fields, used)
        if conv_col is None:
            conv_col = take("leads", C.CONVERSIONS)
        if conv_col is None:
            ctx.add(
                None,
                C.CONVERSIONS,
                "no conversions column (Purchases, Results with Result indicator, or Leads): "
                "conversions left empty",
                "add a purchases or results column to the export, or map one with "
                "mapping={'conversions': '<header>'}",
                "warning",
            )
    if C.REVENUE not in fields:
        revenue = None
        if conv_col is not None:
            revenue = find_header(
                headers, (re.escape(_fold(conv_col)) + r" conversion value" + _CUR,), exclude=used
            )
        revenue = revenue or find_header(headers, H["revenue"], exclude=used)
        if revenue is not None:
            fields[C.REVENUE] = ctx.field(C.REVENUE, revenue)
            used.add(revenue)

    # dates: a per-day column, or reporting start when each row covers a single day
    if C.POSTED_AT not in fields:
        day = find_header(headers, H["day"], exclude=used)
        starts = find_header(headers, H["starts"], exclude=used)
        ends = find_header(headers, H["ends"], exclude=used)
        if day is not None:
            fields[C.POSTED_AT] = ctx.field(C.POSTED_AT, day)
            used.add(day)
        elif starts is not None:
            s = ctx.dates(starts)
            e = ctx.dates(ends) if ends is not None else s
            if bool((s.isna() | e.isna() | (s == e)).all()):
                fields[C.POSTED_AT] = Field(s, starts)
                used.update(h for h in (starts, ends) if h)
    if C.BOOSTED not in fields:
        fields[C.BOOSTED] = Field(pd.Series(1.0, index=raw.frame.index), None)
    extras = [h for h in headers if h not in used]
    return finish(ctx, fields, extras, defaults=defaults, aggregate=True)


def _name_platform(name: object) -> tuple[str, float | str] | float:
    m = _NAME_PLATFORM.match(str(name))
    if m is None:
        return np.nan
    platform = normalise_platform(m.group(1))
    if platform is None:
        return np.nan
    return (platform, m.group(2) if m.group(2) else np.nan)


def _meta_results(
    ctx: Context, headers: list[str], fields: dict[str, Field], used: set[str]
) -> str | None:
    """Conversions from ``Results`` where ``Result indicator`` names a conversion event."""
    results = find_header(headers, META_HEADERS["results"], exclude=used)
    if results is None:
        return None
    values = ctx.numbers(results, C.CONVERSIONS)
    indicator = find_header(headers, META_HEADERS["result_indicator"], exclude=used)
    used.add(results)
    if indicator is None:
        ctx.add(
            None,
            results,
            "no 'Result indicator' column: Results taken as conversions",
            "add Result indicator to the export, or map conversions to a purchases column",
            "warning",
        )
        fields[C.CONVERSIONS] = Field(values, results)
        return results
    kind = ctx.text(indicator)
    is_conversion = kind.fillna("").astype(str).str.contains(_CONVERSION_RESULT).to_numpy()
    other = values.notna().to_numpy() & ~is_conversion
    if other.any():
        what = sorted({str(k) for k in kind[other].dropna()}) or ["(no indicator)"]
        ctx.add(
            None,
            results,
            f"Results of {_n(int(other.sum()), 'row')} count {', '.join(what[:5])}"
            + (" and others" if len(what) > 5 else "")
            + ", not conversions: conversions left empty there",
            "expected for reach, traffic or engagement campaigns; map a purchases column to count "
            "conversions for them",
            "warning",
        )
    fields[C.CONVERSIONS] = Field(values.where(is_conversion), results)
    return results


# --------------------------------------------------------------------------------------------------
# TikTok Ads Manager


def import_tiktok(
    raw: RawTable, mapping: Mapping[str, str], defaults: Mapping[str, object]
) -> pd.DataFrame:
    """A TikTok Ads Manager custom report (``Cost``/``Spend``, ``Impression(s)``, ...).

    ``post_id`` is the ad name, else the ad group name, else the campaign name; platform is tiktok;
    per-day rows (``By Day``/``Date``/``Day``) are summed per ad.
    """
    H = TIKTOK_HEADERS
    headers = raw.headers
    ctx = Context(raw)
    user = _resolve_mapping(ctx, mapping)
    fields, used = _mapped_fields(ctx, user)
    take = _taker(ctx, H, fields, used)

    if C.POST_ID not in fields:
        id_col = (
            find_header(headers, H["ad_name"])
            or find_header(headers, H["adgroup_name"])
            or find_header(headers, H["campaign_name"])
        )
        if id_col is None:
            _missing_column(
                ctx,
                C.POST_ID,
                "'Ad name', 'Ad group name' or 'Campaign name'",
                "export with the Ad name column, or map one: mapping={'post_id': '<header>'}",
                headers,
            )
        else:
            fields[C.POST_ID] = ctx.field(C.POST_ID, id_col)
            used.add(id_col)
    if C.PLATFORM not in fields:
        fields[C.PLATFORM] = Field(pd.Series(C.TIKTOK, index=raw.frame.index, dtype=object), None)
    take("spend", C.SPEND)
    take("impressions", C.PAID_IMPRESSIONS)
    take("clicks", C.CLICKS)
    if take("conversions", C.CONVERSIONS) is None and C.CONVERSIONS not in fields:
        ctx.add(
            None,
            C.CONVERSIONS,
            "no conversions column (Conversions, Complete payment, Purchases, Total conversions): "
            "conversions left empty",
            "add a conversions column to the report, or map one with mapping={'conversions': ...}",
            "warning",
        )
    take("revenue", C.REVENUE)
    take("day", C.POSTED_AT)
    if C.BOOSTED not in fields:
        fields[C.BOOSTED] = Field(pd.Series(1.0, index=raw.frame.index), None)
    extras = [h for h in headers if h not in used]
    return finish(ctx, fields, extras, defaults=defaults, aggregate=True)


# --------------------------------------------------------------------------------------------------
# Meta Business Suite (organic)


def import_meta_organic(
    raw: RawTable, mapping: Mapping[str, str], defaults: Mapping[str, object]
) -> pd.DataFrame:
    """A Meta Business Suite content export (Instagram or Facebook posts): organic metrics per post.

    ``Views`` (or ``Impressions``) -> organic impressions, ``Reach`` -> organic reach, ``Shares`` ->
    organic shares, engagements = likes (reactions) + comments + shares + saves, ``Post type`` (``IG
    reel``) -> format, ``Publish time`` (``MM/DD/YYYY HH:MM``) -> posted_at. The platform is
    instagram for an Instagram export (``Account username`` column or ``IG ...`` post types) and
    facebook for a Page export.
    """
    H = ORGANIC_HEADERS
    headers = raw.headers
    ctx = Context(raw)
    user = _resolve_mapping(ctx, mapping)
    fields, used = _mapped_fields(ctx, user)
    take = _taker(ctx, H, fields, used)

    if take("post_id", C.POST_ID) is None and C.POST_ID not in fields:
        _missing_column(
            ctx,
            C.POST_ID,
            "'Post ID'",
            "export with the Post ID column, or map one: mapping={'post_id': '<header>'}",
            headers,
        )
    take("published", C.POSTED_AT)
    post_type = find_header(headers, H["post_type"], exclude=used)
    if C.FORMAT not in fields and post_type is not None:
        fields[C.FORMAT] = ctx.field(C.FORMAT, post_type)
        used.add(post_type)
    take("views", C.ORGANIC_IMPRESSIONS)
    take("reach", C.ORGANIC_REACH)
    shares = find_header(headers, H["shares"], exclude=used)
    if shares is not None and C.ORGANIC_SHARES not in fields:
        fields[C.ORGANIC_SHARES] = ctx.field(C.ORGANIC_SHARES, shares)
        used.add(shares)
    if C.ORGANIC_ENGAGEMENTS not in fields:
        parts = [
            h
            for h in (
                find_header(headers, H["likes"], exclude=used),
                find_header(headers, H["comments"], exclude=used),
                shares,
                find_header(headers, H["saves"], exclude=used),
            )
            if h is not None
        ]
        if parts:
            fields[C.ORGANIC_ENGAGEMENTS] = _numbers_sum(ctx, parts, C.ORGANIC_ENGAGEMENTS)
            used.update(parts)
        else:
            take("engagements", C.ORGANIC_ENGAGEMENTS)
    if C.PLATFORM not in fields and take("platform", C.PLATFORM) is None:
        _organic_platform(ctx, headers, post_type, fields, defaults)
    extras = [h for h in headers if h not in used]
    return finish(ctx, fields, extras, defaults=defaults, aggregate=False)


def _organic_platform(
    ctx: Context,
    headers: list[str],
    post_type: str | None,
    fields: dict[str, Field],
    defaults: Mapping[str, object],
) -> None:
    H = ORGANIC_HEADERS
    index = ctx.raw.frame.index
    whole: str | None = None
    if find_header(headers, H["instagram_hint"]) is not None:
        whole = C.INSTAGRAM
    elif find_header(headers, H["facebook_hint"]) is not None:
        whole = C.FACEBOOK
    platform = pd.Series(whole if whole else np.nan, index=index, dtype=object)
    if post_type is not None:
        prefix = ctx.text(post_type).str.extract(r"^(?i:(ig|fb|instagram|facebook))\b")[0]
        by_type = prefix.map(normalise_platform, na_action="ignore")
        platform = by_type.where(by_type.notna(), platform)
    if platform.isna().any() and C.PLATFORM not in defaults:
        ctx.add(
            None,
            C.PLATFORM,
            "cannot tell whether these posts are from Instagram or Facebook",
            "pass defaults={'platform': 'instagram'} (--default platform=instagram)",
        )
        return
    fields[C.PLATFORM] = Field(platform, post_type)


IMPORTERS: Final[
    dict[str, Callable[[RawTable, Mapping[str, str], Mapping[str, object]], pd.DataFrame]]
] = {
    "generic": import_generic,
    "meta": import_meta,
    "meta_organic": import_meta_organic,
    "tiktok": import_tiktok,
}
