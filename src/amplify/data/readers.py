"""Reading export files into a raw table of strings, tolerant of what real exports look like.

Handles a UTF-8 BOM (and UTF-16 files), the delimiter (``,``, ``;``, tab or ``|``; a ``;``-separated
file usually has decimal commas, which is sniffed from the values), blank rows, trailing ``Total``
summary rows, and numbers written with thousands separators, currency symbols or accounting
parentheses (``"1,250.50"``, ``$50.00``, ``1 250,50 €``, ``(12.00)``). Files that are not CSV at all
(empty, binary, an ``.xlsx`` renamed to ``.csv``, JSON, HTML) are refused with a
:class:`~amplify.errors.DataError` that says what the file looks like.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2, and a
quoted cell spanning several lines stays one row. Every later problem report uses them.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from amplify.data.schema import MISSING_TOKENS
from amplify.errors import DataError, Problem

FRAME_NAME: Final = "<DataFrame>"
_DELIMITERS: Final = (",", ";", "\t", "|")
_TOTAL_ROW = re.compile(
    r"^(grand\s+)?totals?(\s*:|\s+of\s.*|\s*\(.*\)|\s+\d.*)?$|^results?\s+from\s+\d.*$",
    re.IGNORECASE,
)
_SIGNATURES: Final[tuple[tuple[bytes, str, str], ...]] = (
    (
        b"PK\x03\x04",
        "an Excel workbook (.xlsx) or another zip archive",
        "open it in Excel or Google Sheets and save or download it as CSV (UTF-8)",
    ),
    (
        b"\xd0\xcf\x11\xe0",
        "an old Excel workbook (.xls)",
        "open it in Excel or Google Sheets and save or download it as CSV (UTF-8)",
    ),
    (b"%PDF", "a PDF document", "export the report as CSV from the ads manager instead"),
    (b"\x1f\x8b", "a gzip archive", "unpack it first"),
    (b"\x89PNG", "a PNG image", "export the report as CSV from the ads manager instead"),
    (b"\xff\xd8\xff", "a JPEG image", "export the report as CSV from the ads manager instead"),
)
_DELIMITER_NAMES: Final = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
_CSV_FIX: Final = "export the report as CSV (comma- or semicolon-separated text with a header row)"


@dataclass
class RawTable:
    """A source table before any interpretation.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns as headed in the file (stripped of whitespace); from a CSV every value is a string
        with missing values as NaN, from a DataFrame the values keep their dtypes. Blank and
        ``Total`` rows are gone.
    rows : numpy.ndarray
        For each row of ``frame``, its number as the user sees it (CSV: header = 1; DataFrame: index
        label).
    file : str
        The file as the user named it, or ``"<DataFrame>"``.
    decimal : str
        Decimal separator of the numbers (``"."`` or ``","``).
    delimiter : str or None
        Field delimiter of a CSV file; None for a DataFrame.
    warnings : list of Problem
        Non-fatal findings from reading (dropped summary rows, ...).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    file: str
    decimal: str = "."
    delimiter: str | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        """Column headers in file order."""
        return [str(c) for c in self.frame.columns]

    def row_of(self, positions: np.ndarray | list[int]) -> list[int]:
        """User-visible row numbers of positional row indices."""
        return [int(r) for r in self.rows[np.asarray(positions, dtype=int)]]


# --------------------------------------------------------------------------------------------------
# reading


def read_csv(path: str | os.PathLike[str]) -> RawTable:
    """Read a CSV export into a :class:`RawTable` of strings.

    Parameters
    ----------
    path : str or path-like
        The file to read.

    Returns
    -------
    RawTable

    Raises
    ------
    DataError
        When the file is missing, empty, not text, not a delimited table, has rows with more fields
        than the header, or has a header but no data rows.
    """
    name = os.fspath(path)
    p = Path(path)

    def fail(message: str, fix: str, row: int | None = None) -> DataError:
        return DataError([Problem(name, row, None, message, fix)])

    if not p.exists():
        raise fail("file not found", "check the path and the file name")
    if p.is_dir():
        raise fail("this is a folder, not a file", "give the path of the CSV file inside it")
    data = p.read_bytes()
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise fail(
            "the file is empty", "export the report again; the file has no header and no rows"
        )
    for magic, what, fix in _SIGNATURES:
        if data.startswith(magic):
            raise fail(f"this is not a CSV file: it looks like {what}", fix)
    text = _decode(data)
    if text is None:
        raise fail("this is not a CSV file: it contains binary data", _CSV_FIX)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        raise fail("this is not a CSV file: it looks like JSON", _CSV_FIX)
    if stripped[:1] == "<":
        raise fail(
            "this is not a CSV file: it looks like HTML or XML "
            "(some 'Excel' downloads are web pages)",
            _CSV_FIX,
        )

    # Leading blank lines are skipped; the header is the first non-blank line.
    lines_before = 0
    while text and text.split("\n", 1)[0].strip() == "":
        lines_before += 1
        text = text.split("\n", 1)[1] if "\n" in text else ""
    header_line = _first_record(text)
    delimiter = _sniff_delimiter(header_line)
    if delimiter is None:
        raise fail(
            "this is not a CSV table: the first line has no comma, semicolon or tab "
            "separating columns",
            _CSV_FIX,
            row=lines_before + 1,
        )

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except pd.errors.ParserError as exc:
        raise DataError(_ragged_rows(name, text, delimiter, lines_before, str(exc))) from None
    except (ValueError, csv.Error, UnicodeError) as exc:  # pragma: no cover - defensive
        raise fail(f"could not read the file as CSV ({exc})", _CSV_FIX) from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        # pandas would silently cut rows longer than the header: report them instead
        raise DataError(_ragged_rows(name, text, delimiter, lines_before, "rows too long"))

    frame.columns = pd.Index([str(c).strip().lstrip("\ufeff").strip() for c in frame.columns])
    rows = np.arange(len(frame), dtype=np.int64) + 2 + lines_before
    # Every value a stripped string, missing as NaN.
    for col in frame.columns:
        cells = frame[col].str.strip()
        frame[col] = cells.where(~cells.str.lower().isin(MISSING_TOKENS))
    frame = _drop_unnamed_empty(frame)
    raw = RawTable(frame=frame, rows=rows, file=name, delimiter=delimiter)
    _clean_rows(raw)
    if raw.frame.empty:
        raise fail(
            "the file has a header but no data rows",
            "export the report again with the rows included (check the date range and filters)",
        )
    raw.decimal = sniff_decimal(raw.frame) if delimiter != "," else "."
    return raw


def from_frame(frame: pd.DataFrame, name: str = FRAME_NAME) -> RawTable:
    """Wrap an in-memory table as a :class:`RawTable` (values keep their dtypes).

    Row numbers are the index labels when the index holds integers, else positions.

    Raises
    ------
    DataError
        When the table has no rows.
    """
    df = frame.copy()
    df.columns = pd.Index([str(c).strip() for c in df.columns])
    if pd.api.types.is_integer_dtype(df.index.dtype):
        rows = np.asarray(df.index, dtype=np.int64)
    else:
        rows = np.arange(len(df), dtype=np.int64)
    df = df.reset_index(drop=True)
    for col in df.columns:
        if _is_textual(df[col]):
            df[col] = clean_strings(df[col])
    raw = RawTable(frame=df, rows=rows, file=name)
    _clean_rows(raw)
    if raw.frame.empty:
        raise DataError(
            [Problem(name, None, None, "the table has no rows", "pass a table with data")]
        )
    return raw


def clean_strings(values: pd.Series) -> pd.Series:
    """Values as stripped ``str`` objects (object dtype), NaN for missing-value spellings."""
    text = values.astype("str").str.strip()
    text = text.where(~text.str.lower().isin(MISSING_TOKENS))
    return text.astype(object).where(text.notna(), np.nan)


def _decode(data: bytes) -> str | None:
    """Text of the file, or None when it is binary."""
    head = data[:4096]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif (
        len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head[1::2]) and head[0::2].count(0) == 0
    ):
        text = data.decode("utf-16-le", errors="replace")
    elif b"\x00" in head:
        return None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:10000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n") or ch == "\ufffd")
    if bad > max(2, 0.01 * len(sample)):
        return None
    return text


def _first_record(text: str) -> str:
    """The header record: the first line, extended over newlines inside quotes."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            return text[:i]
    return text


def _sniff_delimiter(header: str) -> str | None:
    """The delimiter most frequent outside quotes in the header; None when there is none."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


def _ragged_rows(name: str, text: str, delimiter: str, offset: int, message: str) -> list[Problem]:
    """Every row with more fields than the header (found with the csv module)."""
    problems: list[Problem] = []
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = next(reader)
        for i, record in enumerate(reader):
            if len(record) > len(header):
                problems.append(
                    Problem(
                        name,
                        i + 2 + offset,
                        None,
                        f"this row has {len(record)} fields but the header has {len(header)}",
                        "remove the extra separators, or put quotes around values that "
                        f'contain a {_DELIMITER_NAMES[delimiter]} (e.g. "1,250.50")',
                    )
                )
    except csv.Error:
        pass
    if not problems:
        m = re.search(r"line (\d+)", message)
        problems.append(
            Problem(
                name,
                int(m.group(1)) + offset if m else None,
                None,
                f"could not read the file as CSV: {message.strip()}",
                "look for an unclosed quote near this row",
            )
        )
    return problems


def _drop_unnamed_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop headerless columns with no values (a trailing delimiter on every line)."""
    drop = [
        c
        for c in frame.columns
        if (str(c) == "" or str(c).startswith("Unnamed:")) and frame[c].isna().all()
    ]
    return frame.drop(columns=drop) if drop else frame


def _is_textual(s: pd.Series) -> bool:
    return bool(pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype))


def _clean_rows(raw: RawTable) -> None:
    """Drop blank rows silently and summary (``Total``) rows with a warning; rows stay aligned."""
    df = raw.frame
    if df.empty:
        return
    blank = df.isna().all(axis=1).to_numpy()
    total = np.zeros(len(df), dtype=bool)
    first_text = pd.Series(np.nan, index=df.index, dtype=object)
    for col in df.columns[:5]:
        if _is_textual(df[col]):
            first_text = first_text.where(first_text.notna(), df[col].astype(object))
    matches = first_text.dropna().astype(str).str.strip().str.match(_TOTAL_ROW)
    total[matches.index[matches.to_numpy(dtype=bool)]] = True
    for pos in np.flatnonzero(total & ~blank):
        raw.warnings.append(
            Problem(
                raw.file,
                int(raw.rows[pos]),
                None,
                f"summary row '{first_text.iloc[pos]}' skipped",
                "",
                "warning",
            )
        )
    keep = ~(blank | total)
    if not keep.all():
        raw.frame = df.loc[keep].reset_index(drop=True)
        raw.rows = raw.rows[keep]


# --------------------------------------------------------------------------------------------------
# numbers

_COMMA_DECIMAL = re.compile(r"-?[\d.\s\u00a0\u202f]*\d,\d+")
_DOT_DECIMAL = re.compile(r"-?[\d,\s\u00a0\u202f]*\d\.\d+")
_COMMA_THOUSANDS_ONLY = re.compile(r"-?\d{1,3}(,\d{3})+")
_DOT_THOUSANDS_ONLY = re.compile(r"-?\d{1,3}(\.\d{3})+")
_NOT_NUMERIC_CHARS = re.compile(r"[^\d.,\s\u00a0\u202f-]")


def sniff_decimal(frame: pd.DataFrame, sample_rows: int = 200) -> str:
    """``","`` when the values use decimal commas (``12,50``), else ``"."``.

    Unambiguous evidence only: ``1,250`` could be either and is not counted.
    """
    comma = dot = 0
    for col in frame.columns:
        s = frame[col]
        if not _is_textual(s):
            continue
        for value in s.dropna().head(sample_rows):
            v = _NOT_NUMERIC_CHARS.sub("", str(value)).strip()
            if not v or not any(ch.isdigit() for ch in v):
                continue
            if _COMMA_DECIMAL.fullmatch(v) and not _COMMA_THOUSANDS_ONLY.fullmatch(v):
                comma += 1
            elif _DOT_DECIMAL.fullmatch(v) and not _DOT_THOUSANDS_ONLY.fullmatch(v):
                dot += 1
    return "," if comma > dot else "."


_CURRENCY = r"[$€£¥₹₩₽₪₺₱฿₫¤]|\b[A-Z]{3}\b"
_SPACES = r"[\s\u00a0\u202f\u2009']"
#: A thousands separator not followed by exactly three digits (then a separator or the end).
_MISGROUPED = {
    ",": r",(?:\d{0,2}(?:\D|$)|\d{4})",
    ".": r"\.(?:\d{0,2}(?:\D|$)|\d{4})",
}


def parse_numbers(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Parse export-style numbers to floats.

    Accepts thousands separators (``"1,250.50"``, or ``"1.250,50"`` / ``"1 250,50"`` with
    ``decimal=","``), currency symbols and codes (``$50.00``, ``50.00 EUR``), accounting negatives
    (``(12.00)``) and the missing-value spellings of :data:`~amplify.data.schema.MISSING_TOKENS`. A
    thousands separator must be followed by exactly three digits, so ``"12,5"`` with ``decimal="."``
    is rejected rather than silently read as 125.

    Parameters
    ----------
    values : pandas.Series
        Strings (or numbers, returned as floats).
    decimal : {".", ","}
        Decimal separator.

    Returns
    -------
    numbers : pandas.Series of float64
        NaN where the value is missing or could not be parsed.
    bad : pandas.Series of bool
        True where a value is present but is not a number.
    """
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        as_float = pd.to_numeric(values, errors="coerce").astype("float64")
        infinite = pd.Series(np.isinf(as_float.to_numpy()), index=values.index)
        return as_float.where(~infinite), infinite
    # Each distinct value is parsed once; plain numbers go through pandas' C parser and only the
    # rest through the (vectorised) clean-up of currency symbols and separators.
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    texts = np.asarray(uniques, dtype=object)
    value_of = np.full(len(texts) + 1, np.nan)
    bad_of = np.zeros(len(texts) + 1, dtype=bool)
    direct = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(float)
    plain = np.isfinite(direct)
    if decimal == ",":  # "1.250" is 1250 there, not 1.25
        plain &= np.array(["." not in str(t) for t in texts], dtype=bool)
    value_of[: len(texts)][plain] = direct[plain]
    rest = np.flatnonzero(~plain)
    if len(rest):
        value_of[rest], bad_of[rest] = _clean_numbers(texts[rest], decimal)
    numbers = pd.Series(value_of[codes], index=values.index, dtype="float64")
    bad = pd.Series(bad_of[codes], index=values.index, dtype=bool)
    return numbers, bad


def _clean_numbers(texts: np.ndarray, decimal: str) -> tuple[np.ndarray, np.ndarray]:
    """Values and bad-flags of strings that are not plain numbers (vectorised with pyarrow)."""
    s = pd.Series([str(t) for t in texts], dtype="string[pyarrow]").str.strip()
    missing = s.str.lower().isin(MISSING_TOKENS).to_numpy(dtype=bool)
    s = s.str.replace(_CURRENCY, "", regex=True).str.replace(_SPACES, "", regex=True)
    paren = (s.str.startswith("(") & s.str.endswith(")")).to_numpy(dtype=bool)
    s = s.where(~paren, "-" + s.str.slice(1, -1))
    thousands = "," if decimal == "." else "."
    misgrouped = s.str.contains(_MISGROUPED[thousands], regex=True).to_numpy(dtype=bool)
    s = s.str.replace(thousands, "", regex=False)
    if decimal == ",":
        s = s.str.replace(",", ".", regex=False)
    odd = s.str.contains("_", regex=False).to_numpy(dtype=bool)
    numbers = pd.to_numeric(s.astype(object), errors="coerce").to_numpy(float)
    ok = np.isfinite(numbers) & ~misgrouped & ~odd & ~missing
    return np.where(ok, numbers, np.nan), ~ok & ~missing
