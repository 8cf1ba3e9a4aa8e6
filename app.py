"""amplify — the what-if app for growth marketers: where to put this week's boost budget.

Run it with ``streamlit run app.py``. This file only sets up the page, the navigation and the
sidebar; each page is a script in ``src/amplify/ui/pages/`` and every computation lives in the
``amplify`` package.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from amplify.ui import pages, session
from amplify.ui import state as S
from amplify.ui.guard import page_guard

# The figures of amplify.plotting are checked against the Vega-Lite schema in their tests; checking
# them again while every rerun builds them would cost ~100 ms per what-if re-plan.
alt.utils.schemapi.disable_debug_mode()

st.set_page_config(
    page_title="amplify — where to boost", page_icon=":material/campaign:", layout="wide"
)

with page_guard("loading the sample account"):
    session.ensure_dataset()

nav = st.navigation(
    [
        st.Page(pages.DATA, title="Data", icon=":material/table_view:", default=True),
        st.Page(pages.MODEL, title="Model", icon=":material/insights:"),
        st.Page(pages.PLAN, title="Plan", icon=":material/payments:"),
        st.Page(pages.SCENARIOS, title="Scenarios", icon=":material/compare_arrows:"),
        st.Page(pages.SIMULATE, title="Simulate", icon=":material/casino:"),
    ]
)

with page_guard("showing this page"):  # each page guards itself too; this catches the rest
    nav.run()

# The sidebar is drawn after the page so it shows what the page just did (e.g. a new upload).
with st.sidebar:
    st.markdown("### amplify")
    posts = st.session_state.get(S.POSTS)
    if posts is not None:
        st.markdown(f"**Data:** {st.session_state[S.DATASET_NAME]}")
        st.caption(f"{len(posts):,} posts · {posts['platform'].nunique()} platforms")
        with page_guard("checking the model"):
            entry = session.fitted()
            if entry is None:
                st.caption("Model: not fitted yet")
            else:
                kind = "fast first look" if session.is_fast(entry) else "full fit"
                st.caption(f"Model: {kind} ✓")
