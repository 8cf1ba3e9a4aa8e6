"""Validation of the post table: each bad file names the right row and column; edge cases pass."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplify import constants as C
from amplify.data import DataError, Problem, load, normalise_format, normalise_platform
from amplify.data.readers import parse_numbers
from amplify.data.validate import MAX_LISTED, parse_dates

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
BAD = EXPORTS / "bad"

Expected = tuple[int | None, str | None, str]


def _problems(path: Path | pd.DataFrame, **kwargs: object) -> DataError:
    with pytest.raises(DataError) as info:
        load(path, **kwargs)  # type: ignore[arg-type,unused-ignore]
    return info.value


def _assert_reported(err: DataError, expected: list[Expected], *, exact: bool = False) -> None:
    for row, column, text in expected:
        hits = [
            p
            for p in err.problems
            if p.row == row and p.column == column and text.lower() in p.message.lower()
        ]
        assert hits, f"no problem at row={row} column={column!r} with {text!r} in:\n{err}"
        # the readable report names the same place
        where = hits[0].location()
        assert where in str(err)
    if exact:
        assert len(err.problems) == len(expected), str(err)


BAD_FILES: list[tuple[str, dict[str, object], list[Expected]]] = [
    ("empty.csv", {}, [(None, None, "empty")]),
    ("header_only.csv", {}, [(None, None, "no data rows")]),
    ("not_a_table.csv", {}, [(1, None, "not a CSV table")]),
    ("looks_like_json.csv", {}, [(None, None, "JSON")]),
    ("looks_like_html.csv", {}, [(None, None, "HTML")]),
    ("missing_platform.csv", {}, [(None, "platform", "did you mean 'platfrom'")]),
    ("missing_post_id_typo.csv", {}, [(None, "post_id", "did you mean 'post_idd'")]),
    (
        "unknown_platform.csv",
        {},
        [
            (3, "platform", "unknown platform 'Myspace'"),
            (4, "platform", "did you mean 'instagram'"),
        ],
    ),
    ("negative_spend.csv", {}, [(4, "spend", "spend is negative (-12.5)")]),
    ("clicks_over_impressions.csv", {}, [(2, "clicks", "exceed paid impressions")]),
    (
        "non_numeric.csv",
        {},
        [(3, "spend", "'five' is not a number"), (4, "paid_impressions", "'lots' is not a number")],
    ),
    (
        "duplicate_post_id.csv",
        {},
        [(5, "post_id", "'p2' appears again for instagram (first in row 3)")],
    ),
    (
        "bad_date.csv",
        {},
        [(3, "posted_at", "'yesterday' is not a date"), (4, "posted_at", "'2024-02-30'")],
    ),
    ("ragged_row.csv", {}, [(3, None, "4 fields but the header has 3")]),
    ("meta_negative_spend.csv", {"source": "meta"}, [(3, "Amount spent (USD)", "negative")]),
    ("meta_missing_name.csv", {"source": "meta"}, [(None, "post_id", "'Ad name'")]),
    ("tiktok_bad_cost.csv", {"source": "tiktok"}, [(4, "Cost", "'thirty' is not a number")]),
    (
        "organic_bad_publish_time.csv",
        {"source": "meta_organic"},
        [(3, "Publish time", "'last tuesday' is not a date")],
    ),
    ("bad_boosted_flag.csv", {}, [(3, "boosted", "'maybe' is not a yes/no value")]),
    ("misgrouped_number.csv", {}, [(3, "spend", "'12,5' is not a number")]),
    (
        "empty_cells_required.csv",
        {},
        [(3, "post_id", "post ID is empty"), (4, "platform", "platform is empty")],
    ),
    # a two-line quoted cell and a blank line: rows are counted as a spreadsheet shows them
    ("blank_and_multiline_rows.csv", {}, [(4, "spend", "'oops' is not a number")]),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"), BAD_FILES, ids=[b[0].removesuffix(".csv") for b in BAD_FILES]
)
def test_bad_file_names_row_and_column(
    name: str, kwargs: dict[str, object], expected: list[Expected]
) -> None:
    err = _problems(BAD / name, **kwargs)
    _assert_reported(err, expected, exact=True)
    assert all(p.file == str(BAD / name) for p in err.problems)
    assert all(p.fix for p in err.problems), "every problem says what to do"


def test_every_problem_is_reported_at_once() -> None:
    err = _problems(BAD / "many_problems.csv")
    _assert_reported(
        err,
        [
            (2, "spend", "negative"),
            (3, "platform", "'snapchat'"),
            (4, "posted_at", "'not a date'"),
            (5, "spend", "'abc'"),
            (6, "clicks", "exceed paid impressions"),
            (7, "post_id", "'p1' appears again for facebook (first in row 2)"),
        ],
        exact=True,
    )
    report = str(err)
    assert report.startswith(f"6 problems in {BAD / 'many_problems.csv'}:")
    assert len(report.splitlines()) == 7
    assert [p.row for p in err.problems] == sorted(p.row or 0 for p in err.problems)


def test_excel_workbook_renamed_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    err = _problems(path)
    _assert_reported(err, [(None, None, "Excel workbook")], exact=True)
    assert "save" in err.problems[0].fix


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    _assert_reported(_problems(path), [(None, None, "binary")], exact=True)


def test_missing_file(tmp_path: Path) -> None:
    _assert_reported(_problems(tmp_path / "nope.csv"), [(None, None, "not found")], exact=True)


@pytest.mark.parametrize(
    ("mapping", "defaults", "expected"),
    [
        pytest.param(
            {"post_id": "ad_id", "spend": "Spnt"},
            {"platform": "facebook"},
            (None, "Spnt", "did you mean 'Spent'"),
            id="mapping-to-a-header-the-file-lacks",
        ),
        pytest.param(
            {"post_id": "ad_id", "spent": "Spent"},
            {"platform": "facebook"},
            (None, "mapping['spent']", "did you mean 'spend'"),
            id="mapping-key-that-is-not-a-column",
        ),
        pytest.param(
            {"post_id": "ad_id"},
            {"platform": "myspace"},
            (None, "defaults['platform']", "unknown platform"),
            id="default-with-unknown-platform",
        ),
    ],
)
def test_bad_mapping_or_default_is_reported(
    mapping: dict[str, str], defaults: dict[str, str], expected: Expected
) -> None:
    err = _problems(EXPORTS / "generic_mapping_segments.csv", mapping=mapping, defaults=defaults)
    _assert_reported(err, [expected], exact=True)


def test_many_bad_rows_are_listed_then_summarised(tmp_path: Path) -> None:
    n = MAX_LISTED + 15
    lines = ["post_id,platform,spend"] + [f"p{i},facebook,n/a{i}" for i in range(n)]
    path = tmp_path / "lots.csv"
    path.write_text("\n".join(lines) + "\n")
    err = _problems(path)
    listed = [p for p in err.problems if p.row is not None]
    assert [p.row for p in listed] == list(range(2, 2 + MAX_LISTED))
    summary = [p for p in err.problems if p.row is None]
    assert len(summary) == 1
    assert summary[0].column == "spend"
    assert "15 more rows" in summary[0].message
    assert f"rows {2 + MAX_LISTED}," in summary[0].message


def test_dataframe_problems_use_index_labels() -> None:
    frame = pd.DataFrame(
        {"post_id": ["a", "b"], "platform": ["fb", "ig"], "spend": [5.0, -1.0]}, index=[10, 11]
    )
    err = _problems(frame)
    _assert_reported(err, [(11, "spend", "negative")], exact=True)
    assert err.problems[0].file == "<DataFrame>"


# --- valid edge cases --------------------------------------------------------------------------


def test_conversions_above_clicks_are_valid() -> None:
    """View-through conversions: an impression without a click can still convert."""
    table = load(EXPORTS / "bad" / "clicks_over_impressions.csv", mapping={"clicks": "spend"})
    row = table.set_index(C.POST_ID).loc["p2"]
    assert row[C.CONVERSIONS] == 30 > row[C.CLICKS] == 5
    frame = pd.DataFrame(
        {"post_id": ["x"], "platform": ["tiktok"], "paid_impressions": [900.0]}
        | {"clicks": [10.0], "conversions": [25.0], "spend": [9.0]}
    )
    assert load(frame)[C.CONVERSIONS].iloc[0] == 25


@pytest.mark.parametrize(
    ("spelling", "platform"),
    [
        ("FB", "facebook"),
        ("Facebook", "facebook"),
        (" facebook ", "facebook"),
        ("IG", "instagram"),
        ("Insta", "instagram"),
        ("Instagram", "instagram"),
        ("TikTok", "tiktok"),
        ("tik tok", "tiktok"),
        ("Tik-Tok", "tiktok"),
        ("tik_tok", "tiktok"),
        ("myspace", None),
    ],
)
def test_platform_spellings(spelling: str, platform: str | None) -> None:
    assert normalise_platform(spelling) == platform


def test_canonical_file_types_order_and_extras() -> None:
    table = load(EXPORTS / "generic_canonical.csv")
    assert list(table.columns) == [*C.CANONICAL_COLUMNS, "audience", "age band"]
    assert table[C.PLATFORM].tolist() == ["facebook"] * 2 + ["instagram"] * 3 + ["tiktok"] * 3 + [
        "instagram"
    ]
    assert table[C.POSTED_AT].dtype == np.dtype("datetime64[ns]")
    assert table.loc[2, C.POSTED_AT] == pd.Timestamp("2024-01-03 18:30")
    for col in C.NUMERIC_COLUMNS:
        assert table[col].dtype == np.float64, col
    assert table[C.BOOSTED].dtype == bool
    assert pd.api.types.is_string_dtype(table[C.POST_ID].dtype)
    assert table[C.FORMAT].tolist()[:5] == ["image", "video", "reel", "carousel", "unknown"]
    # organic metrics optional per row: p5 has only paid metrics, p1 only organic
    assert table[C.ORGANIC_IMPRESSIONS].isna().iloc[4]
    assert table.loc[4, C.SPEND] == 15
    # spend > 0 means boosted; spend 0 or empty means a candidate
    assert table[C.BOOSTED].tolist() == [False, True, True, False, True, False, True, False, False]
    # the same post_id on two platforms is two posts
    assert (table[C.POST_ID] == "p1").sum() == 2
    assert table.attrs["warnings"] == []


def test_paid_only_file_loads() -> None:
    table = load(EXPORTS / "generic_paid_only.csv")
    assert len(table) == 3
    assert table[list(C.ORGANIC_COLUMNS)].isna().all().all()
    assert table[C.BOOSTED].all()
    assert table[C.POSTED_AT].isna().all()


def test_paid_flag_sets_boosted_only_where_spend_is_unknown() -> None:
    frame = pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"],
            "platform": ["fb"] * 4,
            "spend": [np.nan, 0.0, np.nan, 3.0],
            "Paid": [1, 1, 0, 0],
        }
    )
    table = load(frame, mapping={"boosted": "Paid"})
    assert table[C.BOOSTED].tolist() == [True, False, False, True]


def test_suspicious_organic_numbers_are_warnings() -> None:
    frame = pd.DataFrame(
        {
            "post_id": ["a", "b"],
            "platform": ["ig", "ig"],
            "organic_impressions": [100, 1000],
            "organic_reach": [80, 1200],
            "organic_engagements": [150, 10],
        }
    )
    table = load(frame)
    warnings = table.attrs["warnings"]
    assert {(w.row, w.column) for w in warnings} == {
        (0, "organic_engagements"),
        (1, "organic_reach"),
    }
    assert all(isinstance(w, Problem) and w.severity == "warning" for w in warnings)


def test_load_is_idempotent_and_csv_round_trips(tmp_path: Path) -> None:
    table = load(EXPORTS / "generic_canonical.csv")
    again = load(table)
    pd.testing.assert_frame_equal(again, table)
    path = tmp_path / "posts.csv"
    table.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load(path), table)


def test_data_error_report_is_readable() -> None:
    err = DataError(
        [
            Problem("a.csv", 3, "spend", "spend is negative (-1)", "fix the sign"),
            Problem("a.csv", None, None, "file-level thing", ""),
        ],
        [Problem("a.csv", 4, "x", "hmm", "", "warning")],
    )
    text = str(err)
    assert text.splitlines() == [
        "2 problems in a.csv:",
        "  - row 3, column 'spend': spend is negative (-1) Fix: fix the sign",
        "  - whole file: file-level thing",
        "(and 1 warning)",
    ]
    assert issubclass(DataError, ValueError)
    assert err.problems[0].to_dict()["column"] == "spend"


# --- parsing units -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal", "value"),
    [
        ("1,250.50", ".", 1250.5),
        ("$50.00", ".", 50.0),
        ("-$15.00", ".", -15.0),
        ("(12.00)", ".", -12.0),
        ("USD 1,000", ".", 1000.0),
        ("10,000", ".", 10000.0),
        ("12,50", ",", 12.5),
        ("1.250,50", ",", 1250.5),
        ("1 250,50 €", ",", 1250.5),
        ("1\u202f250,50", ",", 1250.5),
        ("£0.00", ".", 0.0),
        ("1.5e3", ".", 1500.0),
    ],
)
def test_parse_numbers_accepts_export_formats(text: str, decimal: str, value: float) -> None:
    numbers, bad = parse_numbers(pd.Series([text]), decimal)
    assert not bad.iloc[0]
    assert numbers.iloc[0] == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "12,5", "1,2,3", "5 apples", "inf", "1.2.3"])
def test_parse_numbers_rejects(text: str) -> None:
    numbers, bad = parse_numbers(pd.Series([text]), ".")
    assert bad.iloc[0]
    assert np.isnan(numbers.iloc[0])


@pytest.mark.parametrize("missing", ["", "-", "--", "N/A", "null", None, "—"])
def test_parse_numbers_missing_is_not_a_problem(missing: str | None) -> None:
    numbers, bad = parse_numbers(pd.Series([missing], dtype=object), ".")
    assert not bad.iloc[0]
    assert np.isnan(numbers.iloc[0])


@settings(max_examples=30)
@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda v: round(v, 2)),
    st.sampled_from(["$", "", "€"]),
    st.sampled_from([".", ","]),
)
def test_parse_numbers_round_trips_formatted_values(
    value: float, symbol: str, decimal: str
) -> None:
    text = f"{abs(value):,.2f}"
    if decimal == ",":
        text = text.replace(",", " ").replace(".", ",")
    text = ("-" if value < 0 else "") + symbol + text
    numbers, bad = parse_numbers(pd.Series([text]), decimal)
    assert not bad.iloc[0]
    assert numbers.iloc[0] == pytest.approx(value, abs=1e-6)


def test_parse_dates_formats_and_zones() -> None:
    values = pd.Series(
        ["2024-03-31", "03/14/2024 09:30", "2024-03-31T10:00:00-0700", None, "soon"], dtype=object
    )
    dates, bad = parse_dates(values)
    assert dates.iloc[0] == pd.Timestamp("2024-03-31")
    assert dates.iloc[1] == pd.Timestamp("2024-03-14 09:30")
    assert dates.iloc[2] == pd.Timestamp("2024-03-31 17:00")  # converted to UTC
    assert pd.isna(dates.iloc[3])
    assert not bad.iloc[3]
    assert bad.tolist() == [False, False, False, False, True]
    # day-first files (decimal commas) read 05/01 as 5 January
    dates, _ = parse_dates(pd.Series(["05/01/2024", "20/01/2024"]), dayfirst=True)
    assert dates.iloc[0] == pd.Timestamp("2024-01-05")


def test_format_vocabulary() -> None:
    assert [normalise_format(v) for v in ["IG reel", "Photo", "Status", None, "Live"]] == [
        "reel",
        "image",
        "text",
        "unknown",
        "live",
    ]


def test_loads_20k_rows_with_currency_strings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "platform": rng.choice(["FB", "Instagram", "tik tok"], n),
            "posted_at": pd.date_range("2023-01-01", periods=n, freq="37min").strftime(
                "%Y-%m-%d %H:%M"
            ),
            "format": rng.choice(["Photo", "video", "reel"], n),
            "organic_impressions": rng.integers(100, 10_000, n),
            "organic_engagements": rng.integers(0, 100, n),
            "spend": [f"${v:,.2f}" for v in rng.uniform(0, 2000, n)],
            "paid_impressions": rng.integers(10_000, 20_000, n),
            "clicks": rng.integers(0, 500, n),
            "conversions": rng.integers(0, 50, n),
            "audience": rng.choice(["broad", "lookalike"], n),
        }
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    table = load(path)
    assert len(table) == n
    assert table[C.SPEND].notna().all()
    assert set(table[C.PLATFORM]) == {C.FACEBOOK, C.INSTAGRAM, C.TIKTOK}


_HEADERS = ["post_id", "platform", "spend", "clicks", "paid_impressions", "posted_at", "boosted"]
_HEADERS += [
    "Amount spent (USD)",
    "Ad name",
    "Cost",
    "By Day",
    "Publish time",
    "Post ID",
    "Results",
]
_CELLS = st.sampled_from(
    [
        *["1", "-3", "$1,250.50", "x", "", "FB", "insta", "2024-01-01", "03/14/2024 09:30"],
        *["Total", "(5)", "1,2", "IG reel", '"a,b"', "tik tok", "yes", "—", "1e400", "-1"],
    ]
)


@settings(max_examples=40)
@given(
    headers=st.lists(st.sampled_from(_HEADERS), min_size=1, max_size=7, unique=True),
    cells=st.lists(st.lists(_CELLS, min_size=0, max_size=8), max_size=5),
    sep=st.sampled_from([",", ";", "\t"]),
    source=st.sampled_from(["generic", "auto", "meta", "tiktok", "meta_organic"]),
)
def test_any_file_loads_or_raises_data_error(
    tmp_path_factory: pytest.TempPathFactory,
    headers: list[str],
    cells: list[list[str]],
    sep: str,
    source: str,
) -> None:
    """Whatever the file holds, the result is a table or a DataError: never another exception."""
    path = tmp_path_factory.mktemp("fuzz") / "export.csv"
    path.write_text("\n".join([sep.join(headers), *(sep.join(r) for r in cells)]))
    try:
        table = load(path, source=source)  # type: ignore[arg-type]
    except DataError as err:
        problems = err.problems
        assert problems
        assert all(isinstance(p, Problem) and p.message for p in problems)
    else:
        assert list(table.columns[: len(C.CANONICAL_COLUMNS)]) == list(C.CANONICAL_COLUMNS)
        assert table[C.BOOSTED].dtype == bool
