"""Importers for real exports (Meta Ads Manager, Business Suite, TikTok) and generic CSVs.

Each fixture under ``fixtures/exports/`` mirrors a header listed in
``shared/data/EXPORT_HEADERS.md`` (copied exactly) and exercises one or more of the quirks listed
there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplify import constants as C
from amplify.data import DataError, load, sniff_source
from amplify.data.readers import read_csv

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
REPO = Path(__file__).resolve().parents[1]
UCI = REPO.parent / "shared" / "data" / "facebook_page_posts_uci.csv"


def _row(table: pd.DataFrame, post_id: str, platform: str | None = None) -> pd.Series:
    hit = table[table[C.POST_ID] == post_id]
    if platform is not None:
        hit = hit[hit[C.PLATFORM] == platform]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def _warned(table: pd.DataFrame, text: str) -> bool:
    return any(text in w.message for w in table.attrs["warnings"])


def _write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


# --- auto-detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("meta_campaign_usd.csv", "meta"),
        ("meta_campaign_egp_bom.csv", "meta"),
        ("meta_ad_gbp_purchases.csv", "meta"),
        ("meta_ad_daily_usd.csv", "meta"),
        ("meta_2019_titlecase.csv", "meta"),
        ("meta_french_semicolon.csv", "meta"),
        ("meta_arabic_egp.csv", "meta"),
        ("meta_platform_breakdown.csv", "meta"),
        ("meta_adset_results.csv", "meta"),
        ("meta_organic_instagram.csv", "meta_organic"),
        ("meta_organic_instagram_variant.csv", "meta_organic"),
        ("meta_organic_facebook.csv", "meta_organic"),
        ("tiktok_complete_payment.csv", "tiktok"),
        ("tiktok_spend_template.csv", "tiktok"),
        ("tiktok_2021_capitalised.csv", "tiktok"),
        ("tiktok_cost_usd.csv", "tiktok"),
        ("generic_canonical.csv", "generic"),
        ("generic_mapping_segments.csv", "generic"),
    ],
)
def test_auto_detects_the_export(name: str, source: str) -> None:
    assert sniff_source(read_csv(EXPORTS / name).headers) == source


def test_auto_source_loads_and_records_the_importer() -> None:
    table = load(EXPORTS / "tiktok_cost_usd.csv", source="auto")
    assert table.attrs["source"] == "tiktok"
    assert list(table.columns[: len(C.CANONICAL_COLUMNS)]) == list(C.CANONICAL_COLUMNS)


def test_generic_source_points_to_the_right_importer() -> None:
    with pytest.raises(DataError) as info:
        load(EXPORTS / "meta_campaign_usd.csv")
    assert "use source='meta'" in str(info.value)


# --- Meta Ads Manager ----------------------------------------------------------------------------


def test_meta_currency_symbols_thousands_and_total_row() -> None:
    table = load(EXPORTS / "meta_campaign_usd.csv", source="meta")
    assert len(table) == 4  # the ",,Total,..." row is gone
    assert _warned(table, "summary row 'Total' skipped")
    spring = _row(table, "Spring sale - purchases")
    assert spring[C.SPEND] == 1250.50  # "1,250.50"
    assert spring[C.PAID_IMPRESSIONS] == 25_000  # "25,000"
    assert _row(table, "Landing page traffic")[C.SPEND] == 750.0  # "$750.00"
    assert table[C.SPEND].sum() == pytest.approx(2550.0)
    # the quoted header containing a comma is one column, kept as an extra
    assert "CPM (cost per 1,000 impressions) (USD)" in table.columns


def test_meta_boosted_post_campaign_is_instagram() -> None:
    table = load(EXPORTS / "meta_campaign_usd.csv", source="meta")
    post = _row(table, "Instagram post: We are hiring a Lead Designer in...")
    assert post[C.PLATFORM] == C.INSTAGRAM
    assert post[C.BOOSTED]
    # campaigns that do not say where they ran default to facebook, with a warning
    assert _row(table, "Awareness push")[C.PLATFORM] == C.FACEBOOK
    assert _warned(table, "assumed facebook")


def test_meta_results_count_as_conversions_only_for_conversion_events() -> None:
    table = load(EXPORTS / "meta_campaign_usd.csv", source="meta")
    assert _row(table, "Spring sale - purchases")[C.CONVERSIONS] == 42  # fb_pixel_purchase
    for name in ("Landing page traffic", "Awareness push", "Instagram post: We are hiring"):
        hits = table[table[C.POST_ID].str.startswith(name)]
        assert hits[C.CONVERSIONS].isna().all(), name  # landing_page_view, reach, profile visits
    assert _warned(table, "not conversions")
    # Link clicks, not Clicks (all)
    assert _row(table, "Spring sale - purchases")[C.CLICKS] == 410


def test_meta_bom_and_total_in_first_column_any_currency() -> None:
    table = load(EXPORTS / "meta_campaign_egp_bom.csv", source="meta")
    assert table.columns[len(C.CANONICAL_COLUMNS)] == "Reporting starts"  # no BOM in the header
    assert len(table) == 2  # "Total,,,," dropped
    assert _row(table, "Ramadan offer")[C.SPEND] == 3000.0  # Amount spent (EGP)
    assert _row(table, "Ramadan offer")[C.CONVERSIONS] == 35


def test_meta_purchases_and_conversion_value_in_pounds() -> None:
    table = load(EXPORTS / "meta_ad_gbp_purchases.csv", source="meta")
    coat = _row(table, "Reel - winter coat")
    assert coat[C.SPEND] == pytest.approx(120.40)  # "£120.40"
    assert coat[C.CONVERSIONS] == 9
    assert coat[C.REVENUE] == 540.0  # Purchases conversion value
    assert coat[C.PAID_IMPRESSIONS] == 15_230
    gloves = _row(table, "Story - gloves")
    assert not gloves[C.BOOSTED]  # spend 0: not boosted
    assert table["Campaign name"].tolist() == ["Winter sale"] * 3  # extra column kept


def test_meta_per_day_rows_sum_to_one_row_per_ad() -> None:
    table = load(EXPORTS / "meta_ad_daily_usd.csv", source="meta")
    assert len(table) == 2
    reel = _row(table, "Instagram reel: behind the scenes")
    assert reel[C.PLATFORM] == C.INSTAGRAM
    assert reel[C.FORMAT] == "reel"
    assert reel[C.SPEND] == pytest.approx(33.75)
    assert reel[C.PAID_IMPRESSIONS] == 3950
    assert reel[C.CLICKS] == 45
    assert reel[C.POSTED_AT] == pd.Timestamp("2024-04-01")  # first day with delivery
    menu = _row(table, "Facebook post: spring menu")
    assert menu[C.PLATFORM] == C.FACEBOOK
    assert menu[C.SPEND] == 10.0
    assert menu[C.POSTED_AT] == pd.Timestamp("2024-04-02")
    # constant per ad: kept, and long IDs stay exact text
    assert reel["Ad ID"] == "23851234567890001"
    assert reel["Campaign name"] == "Boost BTS"


def test_meta_2019_title_case_headers_without_spend() -> None:
    table = load(EXPORTS / "meta_2019_titlecase.csv", source="meta")
    hat = _row(table, "Summer hats - image")
    assert hat[C.PAID_IMPRESSIONS] == 10_234
    assert hat[C.CLICKS] == 210  # "Link Clicks"
    assert hat[C.CONVERSIONS] == 7  # "Purchases"
    assert np.isnan(hat[C.SPEND])
    assert hat[C.BOOSTED]  # an ad export: every row is a boost
    assert hat["Ad Set Name"] == "US 25-44"


def test_meta_french_semicolon_and_decimal_commas() -> None:
    raw = read_csv(EXPORTS / "meta_french_semicolon.csv")
    assert raw.delimiter == ";"
    assert raw.decimal == ","
    table = load(EXPORTS / "meta_french_semicolon.csv", source="meta")
    soldes = _row(table, "Soldes hiver")
    assert soldes[C.SPEND] == pytest.approx(12.50 + 1020.75)  # "12,50" + "1 020,75"
    assert soldes[C.PAID_IMPRESSIONS] == 1250 + 98_400
    assert soldes[C.POSTED_AT] == pd.Timestamp("2024-01-15")  # "Jour"
    assert _row(table, "Nouvelle collection")[C.SPEND] == 7.0


def test_meta_arabic_headers() -> None:
    table = load(EXPORTS / "meta_arabic_egp.csv", source="meta")
    summer = _row(table, "حملة الصيف")
    assert summer[C.SPEND] == 1200.0
    assert summer[C.PAID_IMPRESSIONS] == 30_500
    # reporting starts == ends: a single-day row, so it dates the post
    assert summer[C.POSTED_AT] == pd.Timestamp("2024-06-01")


def test_meta_platform_breakdown_and_audience_network() -> None:
    table = load(EXPORTS / "meta_platform_breakdown.csv", source="meta")
    assert _row(table, "Summer drop", C.FACEBOOK)[C.SPEND] == 40.0
    assert _row(table, "Summer drop", C.INSTAGRAM)[C.SPEND] == 60.0
    assert _row(table, "Team photo", C.INSTAGRAM)[C.CONVERSIONS] == 1
    assert len(table) == 3  # the Audience Network row is set aside
    assert any(w.row == 4 and "audience_network" in w.message for w in table.attrs["warnings"])


def test_meta_placement_rows_sum_per_platform() -> None:
    table = load(EXPORTS / "meta_placement_breakdown.csv", source="meta")
    assert len(table) == 2
    fb = _row(table, "Summer drop", C.FACEBOOK)
    ig = _row(table, "Summer drop", C.INSTAGRAM)
    assert (fb[C.SPEND], fb[C.CLICKS], fb[C.CONVERSIONS]) == (40.0, 60.0, 4.0)
    assert (ig[C.SPEND], ig[C.PAID_IMPRESSIONS], ig[C.CONVERSIONS]) == (60.0, 9000.0, 7.0)


def test_meta_ad_set_level_results_without_indicator() -> None:
    table = load(EXPORTS / "meta_adset_results.csv", source="meta")
    lal = _row(table, "Lookalike 1%")
    assert lal[C.CONVERSIONS] == 10
    assert lal[C.REVENUE] == 1000.0
    assert _warned(table, "Results taken as conversions")
    assert lal["Campaign name"] == "Always on"


def test_meta_defaults_and_mapping_override() -> None:
    table = load(
        EXPORTS / "meta_ad_gbp_purchases.csv",
        source="meta",
        defaults={"platform": "IG"},
        mapping={"post_id": "Campaign name", "clicks": "Impressions"},
    )
    assert set(table[C.PLATFORM]) == {C.INSTAGRAM}
    assert not _warned(table, "assumed facebook")
    # three ads of one campaign become one row
    assert table[C.POST_ID].tolist() == ["Winter sale"]
    assert table[C.SPEND].iloc[0] == pytest.approx(200.40)


# --- Meta Business Suite (organic) ---------------------------------------------------------------


def test_business_suite_instagram_posts() -> None:
    table = load(EXPORTS / "meta_organic_instagram.csv", source="meta_organic")
    assert table[C.PLATFORM].tolist() == [C.INSTAGRAM] * 3
    assert table[C.FORMAT].tolist() == ["image", "reel", "carousel"]  # IG image / IG reel / ...
    reel = _row(table, "17900000000000002")
    assert reel[C.POSTED_AT] == pd.Timestamp("2024-03-16 18:05")  # MM/DD/YYYY HH:MM
    assert reel[C.ORGANIC_IMPRESSIONS] == 12_800  # Views
    assert reel[C.ORGANIC_REACH] == 9800
    assert reel[C.ORGANIC_SHARES] == 85
    assert reel[C.ORGANIC_ENGAGEMENTS] == 910 + 61 + 85 + 120  # likes + comments + shares + saves
    # an empty Saves cell counts as 0 in the sum
    assert _row(table, "17900000000000003")[C.ORGANIC_ENGAGEMENTS] == 150 + 9 + 4
    assert not table[C.BOOSTED].any()
    assert table[C.SPEND].isna().all()
    # a caption spanning two lines stays in its cell
    assert _row(table, "17900000000000001")["Description"].startswith("New collection, out now!")


def test_business_suite_column_order_variant() -> None:
    table = load(EXPORTS / "meta_organic_instagram_variant.csv", source="meta_organic")
    spring = _row(table, "17900000000000011")
    assert spring[C.ORGANIC_REACH] == 6100
    assert spring[C.ORGANIC_ENGAGEMENTS] == 600 + 30 + 40 + 55
    assert spring[C.FORMAT] == "reel"


def test_business_suite_facebook_page_posts() -> None:
    table = load(EXPORTS / "meta_organic_facebook.csv", source="meta_organic")
    assert table[C.PLATFORM].tolist() == [C.FACEBOOK] * 3
    assert table[C.FORMAT].tolist() == ["image", "video", "link"]
    video = _row(table, "1234567890_112")
    assert video[C.ORGANIC_ENGAGEMENTS] == 320 + 40 + 33  # reactions + comments + shares
    assert video[C.ORGANIC_IMPRESSIONS] == 7400


def test_business_suite_needs_a_platform_when_it_cannot_tell(tmp_path: Path) -> None:
    text = "Post ID,Publish time,Views,Reach,Likes\n1,01/02/2024 10:00,100,90,5\n"
    with pytest.raises(DataError) as info:
        load(_write(tmp_path, text), source="meta_organic")
    assert info.value.problems[0].column == "platform"
    table = load(_write(tmp_path, text), source="meta_organic", defaults={"platform": "ig"})
    assert table[C.PLATFORM].tolist() == [C.INSTAGRAM]


# --- TikTok Ads Manager --------------------------------------------------------------------------


def test_tiktok_per_day_rows_complete_payment_and_total_row() -> None:
    table = load(EXPORTS / "tiktok_complete_payment.csv", source="tiktok")
    assert len(table) == 2  # "Total of 2 ads" dropped
    haul = _row(table, "Backpack haul")
    assert haul[C.PLATFORM] == C.TIKTOK
    assert haul[C.SPEND] == 55.0  # Cost
    assert haul[C.PAID_IMPRESSIONS] == 13_200  # "6,000" + "7,200"
    assert haul[C.CLICKS] == 151  # Clicks (destination)
    assert haul[C.CONVERSIONS] == 7  # Complete payment
    assert haul[C.REVENUE] == 270.0  # Total complete payment value
    assert haul[C.POSTED_AT] == pd.Timestamp("2024-08-01")  # By Day
    assert haul[C.BOOSTED]


def test_tiktok_spend_template() -> None:
    table = load(EXPORTS / "tiktok_spend_template.csv", source="tiktok")
    knit = _row(table, "Cozy knit")
    assert (knit[C.SPEND], knit[C.CONVERSIONS], knit[C.CLICKS]) == (78.0, 11.0, 220.0)
    # per-day Reach cannot be summed: dropped with a warning; constant columns kept
    assert "Reach" not in table.columns
    assert _warned(table, "were dropped")
    assert knit["Campaign type"] == "Conversions"


def test_tiktok_2021_capitalised_singular_impression() -> None:
    table = load(EXPORTS / "tiktok_2021_capitalised.csv", source="tiktok")
    unboxing = _row(table, "Unboxing")
    assert unboxing[C.PAID_IMPRESSIONS] == 40_000  # "Impression"
    assert unboxing[C.CLICKS] == 520  # "Clicks (Destination)"
    assert unboxing[C.CONVERSIONS] == 18
    assert unboxing["CTR (Destination)"] == "1.30%"  # rates stay as written


def test_tiktok_cost_in_currency_and_total_conversions() -> None:
    table = load(EXPORTS / "tiktok_cost_usd.csv", source="tiktok")
    costume = _row(table, "Costume try-on")
    assert costume[C.SPEND] == 35.5  # Cost (USD)
    assert costume[C.CONVERSIONS] == 5  # Total conversions
    assert costume[C.REVENUE] == 210.0  # Total conversion value
    assert costume[C.CLICKS] == 66  # Clicks


@pytest.mark.parametrize(
    ("spend", "impressions", "clicks", "conversions", "revenue", "day"),
    [
        ("Cost", "Impressions", "Clicks (destination)", "Conversions", "Purchase value", "By Day"),
        ("Spend", "Impression", "Clicks", "Purchases", "Total conversion value", "Date"),
        ("Total cost", "Impressions", "Clicks (all)", "Complete payment", "Purchase value", "Day"),
        ("Cost (EUR)", "Impression", "Clicks (Destination)", "Total conversions", "", "Day"),
    ],
)
def test_tiktok_header_variants(
    tmp_path: Path,
    spend: str,
    impressions: str,
    clicks: str,
    conversions: str,
    revenue: str,
    day: str,
) -> None:
    headers = [day, "Ad name", spend, impressions, clicks, conversions] + (
        [revenue] if revenue else []
    )
    values = ["2024-10-01", "Teaser", "12.00", "3000", "40", "4"] + (["99.50"] if revenue else [])
    text = ",".join(f'"{h}"' for h in headers) + "\n" + ",".join(values) + "\n"
    table = load(_write(tmp_path, text), source="auto")
    assert table.attrs["source"] == "tiktok"
    row = _row(table, "Teaser")
    assert (row[C.SPEND], row[C.PAID_IMPRESSIONS], row[C.CLICKS], row[C.CONVERSIONS]) == (
        12.0,
        3000.0,
        40.0,
        4.0,
    )
    assert row[C.POSTED_AT] == pd.Timestamp("2024-10-01")
    assert (row[C.REVENUE] == 99.5) if revenue else np.isnan(row[C.REVENUE])


# --- reading quirks shared by every importer ----------------------------------------------------


def test_utf16_tab_separated_export(tmp_path: Path) -> None:
    text = "By Day\tAd name\tCost\tImpressions\tConversions\n2024-10-01\tTeaser\t12.5\t3000\t4\n"
    table = load(_write(tmp_path, text, encoding="utf-16"), source="auto")
    assert _row(table, "Teaser")[C.SPEND] == 12.5


def test_total_row_variants_are_skipped(tmp_path: Path) -> None:
    text = (
        "post_id,platform,spend\n"
        "Total Makeover,fb,5\n"  # a post that happens to start with "Total" is kept
        "p2,ig,3\n"
        "Total,,8\n"
        "Grand total,,8\n"
        "Totals (2 rows),,8\n"
    )
    table = load(_write(tmp_path, text))
    assert table[C.POST_ID].tolist() == ["Total Makeover", "p2"]
    assert sorted(w.row for w in table.attrs["warnings"]) == [4, 5, 6]


# --- generic with a mapping ----------------------------------------------------------------------


def test_generic_mapping_keeps_segments() -> None:
    table = load(
        EXPORTS / "generic_mapping_segments.csv",
        mapping={
            "post_id": "ad_id",
            "spend": "Spent",
            "conversions": "Total_Conversion",
            "paid_impressions": "Impressions",
        },
        defaults={"platform": "facebook"},
    )
    ad = _row(table, "708746")
    assert (ad[C.SPEND], ad[C.CONVERSIONS], ad[C.CLICKS]) == (1.43, 2.0, 1.0)
    # conversions above clicks (view-through) are fine
    assert ad[C.CONVERSIONS] > ad[C.CLICKS]
    assert list(table.columns[len(C.CANONICAL_COLUMNS) :]) == [
        "xyz_campaign_id",
        "fb_campaign_id",
        "age",
        "gender",
        "interest",
        "Approved_Conversion",
    ]
    assert table["age"].tolist()[:2] == ["30-34", "30-34"]
    assert table[C.BOOSTED].tolist() == [True, True, False, True]


@pytest.mark.skipif(not UCI.exists(), reason=f"shared reference data not found at {UCI}")
def test_uci_facebook_page_posts_load_through_the_generic_path() -> None:
    table = load(
        UCI,
        mapping={
            "organic_impressions": "Lifetime Post Total Impressions",
            "organic_reach": "Lifetime Post Total Reach",
            "organic_engagements": "Lifetime Engaged Users",
            "organic_shares": "share",
            "format": "Type",
            "boosted": "Paid",
        },
        defaults={"platform": "facebook"},
    )
    assert len(table) == 500
    assert table[C.POST_ID].iloc[0] == "row-2"
    assert table[C.POST_ID].is_unique
    assert _warned(table, "generated from its row number")
    assert table[C.BOOSTED].sum() == 139
    # the one post with an empty Paid flag: not boosted, with a warning naming its row
    assert any(w.row == 501 and w.column == "Paid" for w in table.attrs["warnings"])
    assert not table[C.BOOSTED].iloc[-1]
    assert set(table[C.FORMAT]) == {"image", "text", "link", "video"}
    assert table[C.ORGANIC_IMPRESSIONS].iloc[0] == 5091
    assert table[C.ORGANIC_SHARES].isna().sum() == 4  # missing values kept as in the original
    assert "Post Month" in table.columns
    assert table["Post Month"].dtype == np.float64
