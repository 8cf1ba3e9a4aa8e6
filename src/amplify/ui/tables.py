"""Tables the app shows and downloads: formatting, problem tables, safe CSV/JSON.

Exports are spreadsheet-safe: a text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab /
carriage return) is prefixed with ``'`` so a spreadsheet shows it as text instead of running it as a
formula (CSV injection). Numbers stay numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

PROBLEM_COLUMNS: tuple[str, ...] = ("row", "column", "problem", "fix")


def escape_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Non-text values (numbers, booleans, missing values) are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell (and column name) escaped by :func:`escape_cell`."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(escape_cell).astype(object)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """Spreadsheet-safe UTF-8 CSV (no index) of ``df``."""
    return escape_frame(df).to_csv(index=False).encode("utf-8")


def _jsonable(obj: Any) -> Any:
    """Convert numpy / pandas values to JSON types, escaping text as in :func:`escape_cell`."""
    if isinstance(obj, Mapping):
        return {str(escape_cell(str(k))): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return [_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return _jsonable(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or obj is pd.NaT:
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, str):
        return escape_cell(obj)
    return escape_cell(str(obj))


def to_json_bytes(obj: Any) -> bytes:
    """Pretty UTF-8 JSON of ``obj`` (dicts, lists, frames, numpy); text escaped, NaN → null."""
    return json.dumps(_jsonable(obj), indent=2, allow_nan=False).encode("utf-8")


# --- data problems --------------------------------------------------------------------------------
def _get(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def problems_frame(error: BaseException | Iterable[Any]) -> pd.DataFrame:
    """The problems of a data error as a table with columns row, column, problem, fix.

    Accepts an :class:`amplify.errors.DataError` (its ``problems``), or any iterable of problem
    records (objects or mappings with ``row``, ``column``, ``problem``/``message`` and ``fix``). An
    error without itemised problems becomes one row with its message. ``row`` is the 1-based line
    number in the file when known (blank when the problem concerns the whole file or a whole
    column).
    """
    items: list[Any]
    if isinstance(error, BaseException):
        items = list(getattr(error, "problems", None) or [])
        if not items:
            items = [{"problem": str(error) or type(error).__name__}]
    else:
        items = list(error)
    rows = []
    for it in items:
        row = _get(it, "row")
        if row is None:
            row = _get(it, "line")
        rows.append(
            {
                "row": ""
                if row is None or (isinstance(row, float) and math.isnan(row))
                else str(row),
                "column": str(_get(it, "column") or ""),
                "problem": str(_get(it, "problem") or _get(it, "message") or ""),
                "fix": str(_get(it, "fix") or _get(it, "hint") or ""),
            }
        )
    return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))


# --- number formatting ----------------------------------------------------------------------------
def fmt_money(x: float | None, currency: str = "$", *, cents: bool | None = None) -> str:
    """``1234.5`` → ``"$1,234"``; ``12.345`` → ``"$12.35"``; missing → ``"–"``.

    ``cents`` forces (True) or drops (False) the cents; by default they show below 100.
    """
    if x is None or not math.isfinite(float(x)):
        return "–"
    show = abs(float(x)) < 100 if cents is None else cents
    return f"{currency}{float(x):,.2f}" if show else f"{currency}{float(x):,.0f}"


def fmt_count(x: float | None) -> str:
    """``1234.5`` → ``"1,234"`` (one decimal below 10); missing → ``"–"``."""
    if x is None or not math.isfinite(float(x)):
        return "–"
    return f"{float(x):,.1f}" if abs(float(x)) < 10 else f"{float(x):,.0f}"


def fmt_range(lo: float | None, hi: float | None, fmt: Any = fmt_count) -> str:
    """``"lo – hi"`` with the given number formatter."""
    return f"{fmt(lo)} – {fmt(hi)}"


def fmt_prob(p: float | None, *, sampled: bool = False) -> str:
    """``0.423`` → ``"42%"``; below 1% → ``"<1%"``; missing → ``"–"``.

    ``sampled``: ``p`` is a share of posterior draws, so 0 and 1 mean "below 1%" and "above 99%"
    (finitely many draws never prove certainty); otherwise 0 and 1 are shown as exact.
    """
    if p is None or not math.isfinite(float(p)):
        return "–"
    p = float(p)
    if 0 < p < 0.01 or (sampled and p <= 0):
        return "<1%"
    if 0.99 < p < 1 or (sampled and p >= 1):
        return ">99%"
    return f"{100 * p:.0f}%"
