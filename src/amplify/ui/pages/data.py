"""Data page: the active post table, the bundled sample account, and uploading an export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from amplify import constants as C
from amplify.data.validate import DESCRIPTIONS
from amplify.ui import session
from amplify.ui import state as S
from amplify.ui.guard import page_guard
from amplify.ui.tables import problems_frame
from amplify.ui.upload import DEFAULT_LIMIT_MB, SOURCES, headers, load_upload, too_large

NONE = "(not in file)"
#: Columns offered in the generic column mapping, with what they mean (``boosted`` is derived).
MAPPABLE: dict[str, str] = {
    **{c: what for c, what in DESCRIPTIONS.items() if c != C.BOOSTED},
    C.POST_ID: "post id (required)",
    C.PLATFORM: "platform (required)",
    C.POSTED_AT: "posted at",
}


def summary(posts: pd.DataFrame) -> None:
    """Headline numbers and a preview of the active post table."""
    boosted = posts[C.BOOSTED].astype(bool) if C.BOOSTED in posts else posts[C.SPEND].fillna(0) > 0
    c = st.columns(4)
    c[0].metric("Posts", f"{len(posts):,}")
    c[1].metric("Boosted", f"{int(boosted.sum()):,}")
    c[2].metric("Candidates (not boosted)", f"{int((~boosted).sum()):,}")
    spend = pd.to_numeric(posts[C.SPEND], errors="coerce")
    c[3].metric("Spend so far", f"${float(spend.fillna(0).sum()):,.0f}")
    by = (
        posts.assign(_boosted=boosted)
        .groupby(C.PLATFORM, observed=True)
        .agg(
            posts=(C.POST_ID, "size"),
            boosted=("_boosted", "sum"),
            spend=(C.SPEND, "sum"),
            conversions=(C.CONVERSIONS, "sum"),
        )
        .reset_index()
    )
    st.dataframe(
        by,
        hide_index=True,
        column_config={
            "spend": st.column_config.NumberColumn("spend", format="$%.0f"),
            "conversions": st.column_config.NumberColumn("conversions", format="%.0f"),
        },
    )
    with st.expander("Preview the post table"):
        st.dataframe(posts.head(200), hide_index=True)


def upload_section() -> None:
    """File uploader, source choice, optional column mapping; loads the file when it changes."""
    limit = float(st.get_option("server.maxUploadSize") or DEFAULT_LIMIT_MB)
    st.subheader("Upload your own export")
    st.caption(
        "A CSV with one row per post: a Meta Ads Manager or TikTok Ads Manager export, or any "
        f"table (map its columns below). Files up to **{limit:g} MB**; larger files are refused — "
        "export a "
        "shorter date range."
    )
    source_label = st.selectbox("What kind of file is it?", list(SOURCES), key=S.SOURCE)
    up = st.file_uploader("CSV export", type=["csv", "tsv", "txt"], key=S.UPLOAD)
    if up is None:
        return
    data = up.getvalue()
    big = too_large(len(data), limit)
    if big:
        st.error(big)
        return
    source = SOURCES[source_label]
    mapping: dict[str, str] = {}
    if source == "generic":
        cols = headers(up.name, data)
        st.markdown("**Map the columns of your file** (leave optional ones as *not in file*):")
        grid = st.columns(3)
        for i, (canonical, label) in enumerate(MAPPABLE.items()):
            options = [NONE, *cols]
            guess = next(
                (h for h in cols if h.strip().lower().replace(" ", "_") == canonical), NONE
            )
            key = S.mapping_key(canonical)
            if key not in st.session_state or st.session_state[key] not in options:
                st.session_state[key] = guess
            choice = grid[i % 3].selectbox(label, options, key=key)
            if choice != NONE:
                mapping[canonical] = choice
    signature = (up.file_id, source, tuple(sorted(mapping.items())))
    if st.session_state[S.UPLOAD_SEEN] != signature:
        st.session_state[S.UPLOAD_SEEN] = signature
        try:
            loaded = load_upload(up.name, data, source, mapping or None)
        except Exception as exc:
            from amplify.errors import DataError

            if not isinstance(exc, DataError):
                raise
            st.session_state[S.PROBLEMS] = problems_frame(exc)
        else:
            st.session_state[S.PROBLEMS] = None
            session.set_dataset(loaded.posts, up.name)
            st.session_state[S.LOAD_NOTES] = (
                problems_frame(loaded.warnings) if loaded.warnings else None
            )
    problems = st.session_state[S.PROBLEMS]
    if problems is not None:
        n = len(problems)
        st.error(
            f"**{up.name}** cannot be used yet: {n} problem{'s' if n != 1 else ''} to fix "
            f"(still using *{st.session_state[S.DATASET_NAME]}*)."
        )
        st.dataframe(problems, hide_index=True, key="problems_table")
    elif st.session_state[S.DATASET_NAME] == up.name:
        st.success(f"Loaded **{up.name}**: {len(st.session_state[S.POSTS]):,} posts.")
        notes = st.session_state.get(S.LOAD_NOTES)
        if notes is not None and len(notes):
            st.warning("Loaded with these notes (nothing to fix, but worth knowing):")
            st.dataframe(notes, hide_index=True)


def render() -> None:
    """The Data page."""
    st.title("Data")
    session.ensure_dataset()
    top = st.container()
    st.divider()
    upload_section()  # first, so a new upload is the data summarised above it
    with top:
        name = st.session_state[S.DATASET_NAME]
        st.markdown(f"Active data: **{name}**")
        if name != session.SAMPLE_NAME and st.button(
            "Go back to the sample account", key=S.USE_SAMPLE
        ):
            session.use_sample()
            st.rerun()
        summary(session.active_posts())


if __name__ == "__main__":
    with page_guard("reading the data"):
        render()
