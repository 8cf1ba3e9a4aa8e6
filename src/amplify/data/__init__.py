"""The post table: loading and validating exports, and access to the bundled sample account.

``load(path_or_frame, source=..., mapping=..., defaults=...)`` returns the canonical table (see
:mod:`amplify.data.schema`) or raises :class:`amplify.errors.DataError` listing every problem.
"""

from __future__ import annotations

import importlib
from typing import Any

from amplify.data.importers import SOURCES, Source, load, sniff_source
from amplify.data.schema import empty_table, normalise_format, normalise_platform
from amplify.errors import DataError, Problem

__all__ = [
    "SOURCES",
    "DataError",
    "Problem",
    "Source",
    "empty_table",
    "load",
    "load_sample",
    "normalise_format",
    "normalise_platform",
    "sample_path",
    "sniff_source",
]


def load_sample(*args: Any, **kwargs: Any) -> Any:
    """The bundled sample account (see :func:`amplify.data.sample.load_sample`)."""
    return importlib.import_module("amplify.data.sample").load_sample(*args, **kwargs)


def sample_path(*args: Any, **kwargs: Any) -> Any:
    """Path of the bundled sample data (see :func:`amplify.data.sample.sample_path`)."""
    return importlib.import_module("amplify.data.sample").sample_path(*args, **kwargs)
