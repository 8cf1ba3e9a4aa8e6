"""Streamlit glue shared by the pages: the active dataset, the model cache, fitting with progress.

Per-session values live in ``st.session_state`` (keys in :mod:`amplify.ui.state`); the only object
shared between sessions is the :class:`~amplify.ui.cache.ModelCache` returned by
:func:`model_cache`, whose entries are read-only.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from amplify.ui import state as S
from amplify.ui.cache import (
    FittedEntry,
    ModelCache,
    data_fingerprint,
    default_cache_dir,
    key_for,
    model_key,
)

SAMPLE_NAME = "Sample account (bundled)"


@st.cache_resource(show_spinner=False)
def model_cache() -> ModelCache:
    """The process-wide cache of fitted models (thread-safe; persisted in the cache directory)."""
    return ModelCache(default_cache_dir())


@st.cache_data(show_spinner=False)
def _sample() -> pd.DataFrame:
    from amplify.data import load_sample

    return load_sample()


def set_dataset(posts: pd.DataFrame, name: str) -> None:
    """Make ``posts`` this session's active data; forget what was derived from the previous data."""
    st.session_state[S.POSTS] = posts
    st.session_state[S.DATASET_NAME] = name
    st.session_state[S.DATASET_ID] = data_fingerprint(posts)
    st.session_state[S.MODEL_KEY] = None
    st.session_state[S.LAST_PLAN] = None
    st.session_state[S.SCENARIOS] = []
    for key in [*S.platform_widget_keys(), S.BUDGET]:
        st.session_state.pop(key, None)


def ensure_dataset() -> None:
    """Start a new session on the bundled sample account."""
    S.init_session(st.session_state)
    if st.session_state[S.POSTS] is None:
        set_dataset(_sample(), SAMPLE_NAME)


def use_sample() -> None:
    """Switch back to the sample account."""
    set_dataset(_sample(), SAMPLE_NAME)


def active_posts() -> pd.DataFrame:
    """The session's active post table."""
    ensure_dataset()
    posts: pd.DataFrame = st.session_state[S.POSTS]
    return posts


def fitted() -> FittedEntry | None:
    """The fitted model of the active data: this session's fit, else any saved fit of the data.

    A full fit is preferred over a fast one when both exist (e.g. fitted earlier, or by another
    session).
    """
    cache = model_cache()
    key = st.session_state.get(S.MODEL_KEY)
    if key:
        entry = cache.get(key)
        if entry is not None:
            return entry
    ensure_dataset()
    fingerprint = st.session_state[S.DATASET_ID]
    for fast in (False, True):
        entry = cache.get(key_for(fingerprint, S.fit_settings(fast)))
        if entry is not None:
            st.session_state[S.MODEL_KEY] = entry.key
            return entry
    return None


def is_fast(entry: FittedEntry) -> bool:
    """Whether ``entry`` is an approximate (fast first look) fit."""
    diag = getattr(entry.model, "diagnostics_", None)
    return bool(getattr(diag, "approximate", False))


def fit_with_progress(fast: bool) -> FittedEntry:
    """Fit (or fetch) the model of the active data, showing a progress bar while it runs."""
    posts = active_posts()
    settings = S.fit_settings(fast)
    cache = model_cache()
    key = model_key(posts, settings)
    entry = cache.get(key)
    if entry is None:
        label = "Fast first look (approximate)" if fast else "Full fit (NUTS sampling)"
        with st.status(f"{label}: fitting the model…", expanded=True) as status:
            bar = st.progress(0.0, text="starting")
            t0 = time.perf_counter()

            def progress(stage: str, fraction: float) -> None:
                frac = min(max(float(fraction), 0.0), 1.0)
                bar.progress(frac, text=f"{stage} ({100 * frac:.0f}%)")

            entry = cache.get_or_fit(posts, settings, progress)
            bar.progress(1.0, text="done")
            status.update(
                label=f"{label}: done in {time.perf_counter() - t0:.1f} s",
                state="complete",
                expanded=False,
            )
    st.session_state[S.MODEL_KEY] = entry.key
    return entry


def require_model(purpose: str) -> FittedEntry | None:
    """The fitted model, or an explanation plus a one-click fast fit when there is none yet."""
    entry = fitted()
    if entry is not None:
        return entry
    st.info(
        f"{purpose} needs a fitted model of **{st.session_state[S.DATASET_NAME]}**. "
        "Fit a fast first look here (seconds), or a full fit on the **Model** page."
    )
    if st.button("Fit a fast first look now", key=S.QUICK_FIT_BUTTON, type="primary"):
        return fit_with_progress(fast=True)
    return None


def platform_curves(entry: FittedEntry, n_boosts: int, max_draws: int = 1000) -> Any:
    """The fitted model's per-platform response curves (memoised on the shared entry)."""
    return entry.memo(
        ("platform_curves", n_boosts, max_draws),
        lambda: entry.model.platform_curves(n_boosts, max_draws=max_draws, seed=0),
    )


def show_chart(chart: Any) -> None:
    """Draw an Altair chart from :mod:`amplify.plotting` at full width.

    The spec is serialised without Altair's JSON-schema validation (the figures are validated in
    their own tests); validating on every rerun would cost ~100 ms of each what-if re-plan.
    """
    st.vega_lite_chart(spec=chart.to_dict(validate=False), width="stretch")
