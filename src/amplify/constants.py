"""Names shared across amplify: platforms, canonical post-table columns, model dims.

Every module refers to these names instead of string literals so that a rename happens in one place.
"""

from __future__ import annotations

from typing import Final

# --- platforms -------------------------------------------------------------------------------
FACEBOOK: Final = "facebook"
INSTAGRAM: Final = "instagram"
TIKTOK: Final = "tiktok"
PLATFORMS: Final[tuple[str, ...]] = (FACEBOOK, INSTAGRAM, TIKTOK)

#: Spellings seen in real exports, lower-cased with spaces, dashes and underscores removed.
PLATFORM_ALIASES: Final[dict[str, str]] = {
    "facebook": FACEBOOK,
    "fb": FACEBOOK,
    "meta": FACEBOOK,
    "facebookfeed": FACEBOOK,
    "instagram": INSTAGRAM,
    "ig": INSTAGRAM,
    "insta": INSTAGRAM,
    "instagramfeed": INSTAGRAM,
    "instagramreels": INSTAGRAM,
    "tiktok": TIKTOK,
    "tt": TIKTOK,
    "douyin": TIKTOK,
}

# --- canonical post table ----------------------------------------------------------------------
POST_ID: Final = "post_id"
PLATFORM: Final = "platform"
POSTED_AT: Final = "posted_at"
FORMAT: Final = "format"
ORGANIC_IMPRESSIONS: Final = "organic_impressions"
ORGANIC_REACH: Final = "organic_reach"
ORGANIC_ENGAGEMENTS: Final = "organic_engagements"
ORGANIC_SHARES: Final = "organic_shares"
SPEND: Final = "spend"
PAID_IMPRESSIONS: Final = "paid_impressions"
CLICKS: Final = "clicks"
CONVERSIONS: Final = "conversions"
REVENUE: Final = "revenue"
#: True when the post was boosted. Derived from spend > 0 when spend is known; an export that only
#: has a paid flag (no spend) may set it directly.
BOOSTED: Final = "boosted"

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (POST_ID, PLATFORM)
ORGANIC_COLUMNS: Final[tuple[str, ...]] = (
    ORGANIC_IMPRESSIONS,
    ORGANIC_REACH,
    ORGANIC_ENGAGEMENTS,
    ORGANIC_SHARES,
)
PAID_COLUMNS: Final[tuple[str, ...]] = (SPEND, PAID_IMPRESSIONS, CLICKS, CONVERSIONS, REVENUE)
COUNT_COLUMNS: Final[tuple[str, ...]] = (
    ORGANIC_IMPRESSIONS,
    ORGANIC_REACH,
    ORGANIC_ENGAGEMENTS,
    ORGANIC_SHARES,
    PAID_IMPRESSIONS,
    CLICKS,
    CONVERSIONS,
)
MONEY_COLUMNS: Final[tuple[str, ...]] = (SPEND, REVENUE)
NUMERIC_COLUMNS: Final[tuple[str, ...]] = COUNT_COLUMNS + MONEY_COLUMNS
#: Canonical columns in their canonical order; extra columns (segments) follow them.
CANONICAL_COLUMNS: Final[tuple[str, ...]] = (
    POST_ID,
    PLATFORM,
    POSTED_AT,
    FORMAT,
    *ORGANIC_COLUMNS,
    SPEND,
    PAID_IMPRESSIONS,
    CLICKS,
    CONVERSIONS,
    REVENUE,
    BOOSTED,
)
UNKNOWN_FORMAT: Final = "unknown"

# --- model dims ----------------------------------------------------------------------------------
DIM_PLATFORM: Final = "platform"
DIM_FORMAT: Final = "format"
DIM_POST: Final = "post"
DIM_SEGMENT: Final = "segment"
DIM_ARM: Final = "arm"
DIM_DRAW: Final = "sample"
