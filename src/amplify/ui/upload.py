"""Reading an uploaded export: bytes in, validated post table (or every problem with it) out.

The upload is written to a private temporary folder under its own (sanitised) file name, so
problems name the file the user picked, then read by :func:`amplify.data.load`, which raises
:class:`amplify.errors.DataError` listing every problem (row, column, what to fix).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: Source choices shown to the user -> ``source`` argument of :func:`amplify.data.load`.
SOURCES: dict[str, str] = {
    "Detect automatically": "auto",
    "Generic CSV (map the columns)": "generic",
    "Meta Ads Manager export": "meta",
    "TikTok Ads Manager export": "tiktok",
}
#: Default upload limit in MB (Streamlit's ``server.maxUploadSize`` in ``.streamlit/config.toml``).
DEFAULT_LIMIT_MB = 50


def safe_name(name: str) -> str:
    """A file name without directories or odd characters (``"../a b.csv"`` → ``"a_b.csv"``)."""
    base = Path(str(name).replace("\\", "/")).name or "upload.csv"
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload.csv"
    return base[:120]


def too_large(size_bytes: int, limit_mb: float = DEFAULT_LIMIT_MB) -> str | None:
    """A clear message when an upload exceeds the limit, else ``None``."""
    if size_bytes > limit_mb * 1024 * 1024:
        return (
            f"This file is {size_bytes / 1024 / 1024:,.1f} MB; the limit is {limit_mb:g} MB. "
            "Export a shorter date range (or fewer columns) and upload that."
        )
    return None


@dataclass
class Loaded:
    """A successfully read upload: the canonical post table and non-fatal findings."""

    posts: pd.DataFrame
    warnings: list[Any] = field(default_factory=list)


def _with_file(name: str, data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    tmp = tempfile.TemporaryDirectory(prefix="amplify-upload-")
    path = Path(tmp.name) / safe_name(name)
    path.write_bytes(data)
    return tmp, path


def headers(name: str, data: bytes) -> list[str]:
    """Column headers of an uploaded CSV (for the column-mapping selects); raises ``DataError``."""
    from amplify.data.readers import read_csv

    tmp, path = _with_file(name, data)
    with tmp:
        return read_csv(path).headers


def load_upload(
    name: str,
    data: bytes,
    source: str = "auto",
    mapping: Mapping[str, str] | None = None,
) -> Loaded:
    """Validate an uploaded export into the canonical post table.

    Parameters
    ----------
    name
        The file name the user uploaded (shown in problem reports).
    data
        The file's bytes.
    source
        ``"auto"`` (detect from the header), ``"generic"``, ``"meta"`` or ``"tiktok"``.
    mapping
        Generic importer only: ``{canonical_column: header in the file}``.

    Raises
    ------
    amplify.errors.DataError
        Every problem found, with row and column.
    """
    from amplify import data as amplify_data

    kwargs: dict[str, Any] = {"source": source}
    if mapping:
        kwargs["mapping"] = dict(mapping)
    tmp, path = _with_file(name, data)
    with tmp:
        posts = amplify_data.load(path, **kwargs)
    warnings = list(posts.attrs.get("warnings", []) or [])
    return Loaded(posts, warnings)
