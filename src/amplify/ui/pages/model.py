"""Model page: fit (fast first look or full), diagnostics in plain language, response curves, the
organic→paid effect and the candidate posts worth boosting."""

from __future__ import annotations

import streamlit as st

from amplify.plotting import interval_chart, response_curves_chart
from amplify.ui import session
from amplify.ui import state as S
from amplify.ui.guard import page_guard
from amplify.ui.insights import candidates_table, diagnostics_summary, n_samples, organic_table
from amplify.ui.verdicts import ICONS, diagnostics_verdicts, overall


def fit_controls() -> None:
    """Fit-mode choice and the fit button."""
    st.radio(
        "How to fit",
        [S.FIT_FAST, S.FIT_FULL],
        key=S.FIT_MODE,
        horizontal=True,
        help="The fast first look approximates the posterior in seconds (ranges tend to be too "
        "narrow). The full fit samples it with NUTS: minutes, and the numbers to act on.",
    )
    fast = st.session_state[S.FIT_MODE] == S.FIT_FAST
    if fast:
        st.caption(
            "⚡ The fast first look is **approximate** — good for exploring; run a full fit "
            "before committing budget."
        )
    if st.button("Fit the model", key=S.FIT_BUTTON, type="primary"):
        session.fit_with_progress(fast=fast)


def show_diagnostics(entry: session.FittedEntry) -> None:
    """Verdicts on the fit (plain language) and the worst parameters."""
    model = entry.model
    verdicts = diagnostics_verdicts(model.diagnostics_, n_samples(model))
    status, text = overall(verdicts)
    {"good": st.success, "check": st.warning, "bad": st.error}[status](text)
    st.table(
        {
            "Check": [f"{v.icon} {v.check}" for v in verdicts],
            "Value": [v.value for v in verdicts],
            "What it means": [v.message for v in verdicts],
        }
    )
    for w in getattr(model.diagnostics_, "warnings", []) or []:
        st.caption(f"{ICONS['check']} {w}")
    summary = entry.memo("diagnostics_summary", lambda: diagnostics_summary(model))
    if summary is not None and len(summary):
        with st.expander("Parameters with the weakest diagnostics"):
            st.dataframe(summary, hide_index=True)


def render() -> None:
    """The Model page."""
    st.title("Model")
    st.markdown(
        f"Learns, from **{st.session_state[S.DATASET_NAME]}**, how each platform turns spend into "
        "conversions and how a post's organic performance predicts its paid performance."
    )
    fit_controls()
    entry = session.fitted()
    if entry is None:
        st.info("No fitted model for this data yet: choose how to fit and press **Fit the model**.")
        return
    kind = "fast first look (approximate)" if session.is_fast(entry) else "full fit (NUTS)"
    src = " — loaded from a saved fit, no refit needed" if entry.from_disk else ""
    st.caption(f"Showing the **{kind}**{src}.")

    st.header("Can we trust the fit?")
    show_diagnostics(entry)

    st.header("Response curves per platform")
    st.caption(
        "Expected conversions for a budget spent on one typical post, with 80% and 95% credible "
        "bands. Dashed: beyond the largest spend in the data (an extrapolation)."
    )
    curves = session.platform_curves(entry, 1)
    session.show_chart(response_curves_chart(curves))

    st.header("Does organic engagement predict paid results?")
    organic = entry.memo("organic_effect", entry.model.organic_effect)
    st.caption(
        "Effect of a post's organic resonance on its paid click-through rate, per platform "
        "(mean with 90% interval; above 0 means posts that do well organically also do well paid)."
    )
    session.show_chart(
        interval_chart(
            organic,
            label="platform",
            mean="effect_mean",
            lo80="lo90",
            hi80="hi90",
            color="platform",
            x_title="effect (logit scale)",
            zero_rule=True,
        )
    )
    st.table(organic_table(organic))

    st.header("Which posts to boost next")
    ranked = entry.memo("rank_candidates", entry.model.rank_candidates)
    if ranked is None or len(ranked) == 0:
        st.info("Every post in the data is already boosted: no candidates to rank.")
        return
    st.caption(
        "Candidate (not yet boosted) posts ranked by expected conversions per $100 of boost, "
        "with 90% "
        "intervals and the probability of being in the top 10%."
    )
    st.dataframe(candidates_table(ranked), hide_index=True, key="candidates_table")


if __name__ == "__main__":
    with page_guard("showing the model"):
        render()
