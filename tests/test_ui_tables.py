"""Spreadsheet-safe exports, problem tables and number formatting of the app (amplify.ui.tables)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from amplify.errors import DataError, Problem
from amplify.ui.tables import (
    escape_cell,
    escape_frame,
    fmt_money,
    fmt_prob,
    problems_frame,
    to_csv_bytes,
    to_json_bytes,
)


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x"])
def test_formula_like_text_is_escaped(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["facebook", "a=b", "", 3, -2.5, None, True])
def test_other_values_are_unchanged(value: object) -> None:
    assert escape_cell(value) == value


def test_csv_export_escapes_text_but_keeps_numbers() -> None:
    df = pd.DataFrame(
        {
            "platform": ["facebook", '=HYPERLINK("http://x")', "@evil"],
            "spend": [100.0, -5.0, 0.0],
            "-note": ["ok", "-1+2", "+3"],
        }
    )
    rows = list(csv.reader(io.StringIO(to_csv_bytes(df).decode("utf-8"))))
    assert rows[0] == ["platform", "spend", "'-note"]
    assert rows[1] == ["facebook", "100.0", "ok"]
    assert rows[2][0] == '\'=HYPERLINK("http://x")'
    assert rows[2][1] == "-5.0"  # a negative number stays a number
    assert rows[2][2] == "'-1+2"
    assert rows[3] == ["'@evil", "0.0", "'+3"]
    # no cell of the export starts with a formula character unless it is a number
    for row in rows:
        for cell in row:
            if cell[:1] in "=+-@":
                float(cell)


def test_escape_frame_does_not_modify_input() -> None:
    df = pd.DataFrame({"a": ["=x"]})
    escape_frame(df)
    assert df.loc[0, "a"] == "=x"


def test_json_export_escapes_text_and_handles_numpy_and_nan() -> None:
    payload = {
        "arms": np.array(["facebook", "=cmd"]),
        "spend": np.array([1.5, np.nan]),
        "n": np.int64(3),
        "table": pd.DataFrame({"platform": ["+x"], "p": [0.5]}),
    }
    doc = json.loads(to_json_bytes(payload))
    assert doc["arms"] == ["facebook", "'=cmd"]
    assert doc["spend"] == [1.5, None]
    assert doc["n"] == 3
    assert doc["table"] == [{"platform": "'+x", "p": 0.5}]


def test_problems_frame_from_data_error() -> None:
    err = DataError(
        [
            Problem("x.csv", 5, "Amount spent", "not a number: 'abc'", "write a number"),
            Problem("x.csv", None, "platform", "column missing", "add it"),
        ]
    )
    table = problems_frame(err)
    assert list(table.columns) == ["row", "column", "problem", "fix"]
    assert table.iloc[0].tolist() == ["5", "Amount spent", "not a number: 'abc'", "write a number"]
    assert table.iloc[1]["row"] == ""
    assert table.iloc[1]["column"] == "platform"


def test_problems_frame_from_plain_error_has_its_message() -> None:
    table = problems_frame(ValueError("bad file"))
    assert len(table) == 1
    assert table.loc[0, "problem"] == "bad file"


@pytest.mark.parametrize(
    ("x", "text"), [(1234.4, "$1,234"), (12.345, "$12.35"), (float("nan"), "–"), (None, "–")]
)
def test_fmt_money(x: float | None, text: str) -> None:
    assert fmt_money(x) == text


@pytest.mark.parametrize(
    ("p", "text"), [(0.423, "42%"), (0.001, "<1%"), (0.999, ">99%"), (0, "0%")]
)
def test_fmt_prob(p: float, text: str) -> None:
    assert fmt_prob(p) == text


def test_fmt_prob_of_draws_never_claims_certainty() -> None:
    assert fmt_prob(1.0, sampled=True) == ">99%"
    assert fmt_prob(0.0, sampled=True) == "<1%"
    assert fmt_prob(0.5, sampled=True) == "50%"
