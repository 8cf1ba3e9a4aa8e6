"""The canonical post table: dtypes, and the normalisers for platform and format names.

One row per post (boosted or not). Columns are :data:`amplify.constants.CANONICAL_COLUMNS` in that
order, then any extra columns from the source file (segments such as audience or age band), kept for
later use as covariates.

====================  ==============  =========================================================
column                dtype           meaning
====================  ==============  =========================================================
post_id               str             unique per platform
platform              str             ``facebook``, ``instagram`` or ``tiktok``
posted_at             datetime64[ns]  when the organic post went out (NaT when unknown)
format                str             lower-case free vocabulary (``image``, ``video``, ``reel``,
                                      ...), ``unknown`` when missing
organic_*             float64         organic impressions, reach, engagements, shares (NaN =
                                      missing)
spend                 float64         paid spend in account currency; 0 or NaN = not boosted
paid_impressions,     float64         outcomes of the boost (NaN = missing); clicks <= paid
clicks, conversions                   impressions; conversions may exceed clicks (view-through)
revenue               float64         optional, for ROAS
boosted               bool            spend > 0; from a paid flag where spend is unknown
====================  ==============  =========================================================
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from amplify import constants as C

#: Canonical column -> pandas dtype of the finished table.
DTYPES: Final[dict[str, str]] = {
    C.POST_ID: "str",
    C.PLATFORM: "str",
    C.POSTED_AT: "datetime64[ns]",
    C.FORMAT: "str",
    **dict.fromkeys(C.NUMERIC_COLUMNS, "float64"),
    C.BOOSTED: "bool",
}

#: Cell values that mean "no value" in exports (compared after strip + lower-case).
MISSING_TOKENS: Final[frozenset[str]] = frozenset(
    {"", "-", "--", "—", "–", "n/a", "na", "nan", "nat", "null", "none", "<na>"}
)

#: Yes/no spellings for a paid/boosted flag column (compared after strip + lower-case).
TRUE_TOKENS: Final[frozenset[str]] = frozenset(
    {"1", "1.0", "true", "t", "yes", "y", "paid", "boosted", "promoted", "oui", "si", "sí", "ja"}
)
FALSE_TOKENS: Final[frozenset[str]] = frozenset(
    {"0", "0.0", "false", "f", "no", "n", "organic", "not boosted", "unpaid", "non", "nein"}
)

#: Format spellings -> pooled format name. Anything else is kept lower-cased (free vocabulary).
FORMAT_SYNONYMS: Final[dict[str, str]] = {
    "photo": "image",
    "photos": "image",
    "image": "image",
    "images": "image",
    "picture": "image",
    "video": "video",
    "videos": "video",
    "reel": "reel",
    "reels": "reel",
    "short": "reel",
    "shorts": "reel",
    "carousel": "carousel",
    "carousels": "carousel",
    "album": "carousel",
    "carousel album": "carousel",
    "carousel_album": "carousel",
    "link": "link",
    "links": "link",
    "status": "text",
    "text": "text",
    "story": "story",
    "stories": "story",
}

_PLATFORM_STRIP = re.compile(r"[\s\-_.]+")
_HEADER_STRIP = re.compile(r"[^0-9a-z]+")
_FORMAT_PREFIX = re.compile(r"^(ig|fb|instagram|facebook|tiktok)\s+")


def normalise_header(name: object) -> str:
    """Lower-case a header and keep only letters and digits (``"Post ID"`` -> ``"postid"``)."""
    return _HEADER_STRIP.sub("", str(name).casefold())


def platform_key(value: object) -> str:
    """Lower-case a platform spelling and remove spaces, dashes, underscores and dots."""
    return _PLATFORM_STRIP.sub("", str(value).strip().casefold())


def normalise_platform(value: object) -> str | None:
    """Canonical platform of a spelling such as ``"FB"``, ``"Insta"``, ``"tik tok"``; else None."""
    return C.PLATFORM_ALIASES.get(platform_key(value))


def normalise_format(value: object) -> str:
    """Pooled, lower-case format name (``"IG reel"`` -> ``"reel"``, ``"Photo"`` -> ``"image"``).

    Missing values become :data:`amplify.constants.UNKNOWN_FORMAT`; unknown spellings are kept
    lower-cased.
    """
    if value is None or (isinstance(value, float) and value != value):
        return C.UNKNOWN_FORMAT
    text = " ".join(str(value).strip().casefold().split())
    if text in MISSING_TOKENS:
        return C.UNKNOWN_FORMAT
    text = _FORMAT_PREFIX.sub("", text)
    return FORMAT_SYNONYMS.get(text, text)


def empty_table() -> pd.DataFrame:
    """A canonical post table with no rows and the canonical dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=DTYPES[c]) for c in C.CANONICAL_COLUMNS})
