"""Keep tracebacks off the page: a guard turning a page's errors into short messages.

Data problems (:class:`amplify.errors.DataError`) are shown as a table of what to fix; anything
unexpected becomes one ``st.error`` line (the full traceback goes to the server log, never to the
browser). Streamlit's own control flow (``st.rerun``, ``st.stop``) derives from ``BaseException``
and passes through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from amplify.ui.tables import problems_frame

log = logging.getLogger("amplify.app")


def _is_data_error(exc: BaseException) -> bool:
    try:
        from amplify.errors import DataError
    except ImportError:  # pragma: no cover - until amplify.errors exists
        return False
    return isinstance(exc, DataError)


@contextmanager
def page_guard(doing: str) -> Iterator[None]:
    """Run a page body; show a short error instead of a traceback when it fails.

    Parameters
    ----------
    doing
        What the page was doing, for the message: "building the plan", "fitting the model", ...
    """
    try:
        yield
    except Exception as exc:
        if _is_data_error(exc):
            st.error(f"The data cannot be used for {doing}. Fix these problems and try again:")
            st.dataframe(problems_frame(exc), hide_index=True)
            return
        log.exception("error while %s", doing)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if len(first) > 300:
            first = first[:297] + "..."
        st.error(f"Something went wrong while {doing}: {first}", icon="⚠️")
