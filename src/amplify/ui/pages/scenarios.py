"""Scenarios page: build several what-ifs and compare them side by side, each with its intervals."""

from __future__ import annotations

import streamlit as st

from amplify.constants import PLATFORMS
from amplify.plotting import interval_chart, scenario_chart
from amplify.ui import planning, session
from amplify.ui import scenarios as sc
from amplify.ui import state as S
from amplify.ui.guard import page_guard

LEVELS = {
    "Platforms (as on the Plan page)": "platform",
    "Candidate posts (needed for 'only the top N posts')": "post",
}
NONE = "(none)"


def builder(platforms: list[str], budget: float) -> None:
    """The form that adds one what-if to the session's list."""
    with st.form("scenario_form", clear_on_submit=False, border=True):
        st.markdown("**Add a what-if**")
        c = st.columns(4)
        name = c[0].text_input("Name", value="", key=S.SC_NAME, placeholder="e.g. TikTok CPM +30%")
        budget_pct = c[1].slider("Budget change (%)", -80, 200, 0, 5, key=S.SC_BUDGET)
        top_n = c[2].number_input(
            "Only the top N posts (0 = all)", min_value=0, max_value=500, value=0, key=S.SC_TOP_N
        )
        c[3].caption(f"Baseline budget: ${budget:,.0f}")
        c = st.columns(4)
        shock_p = c[0].selectbox(
            "Shock a platform", [NONE, *platforms, sc.ALL], key=S.SC_SHOCK_PLATFORM
        )
        cpm = c[1].slider("CPM change (%)", -50, 100, 0, 5, key=S.SC_CPM)
        cvr = c[2].slider("Conversion-rate change (%)", -50, 100, 0, 5, key=S.SC_CVR)
        c[3].caption("CPM +20%: each dollar buys 1/1.2 the impressions.")
        c = st.columns(4)
        lock_p = c[0].selectbox("Lock a platform", [NONE, *platforms], key=S.SC_LOCK_PLATFORM)
        lock_amount = c[1].number_input(
            "Lock at ($)", min_value=0.0, value=0.0, step=50.0, key=S.SC_LOCK_AMOUNT
        )
        added = st.form_submit_button("Add what-if", type="primary")
    if added:
        spec = sc.Spec(
            name=name.strip() or f"What-if {len(st.session_state[S.SCENARIOS]) + 1}",
            budget_pct=float(budget_pct),
            shock_platform=None if shock_p == NONE else shock_p,
            cpm_pct=float(cpm),
            cvr_pct=float(cvr),
            lock_platform=None if lock_p == NONE else lock_p,
            lock_amount=float(lock_amount),
            top_n=int(top_n),
        )
        names = [s["name"] for s in st.session_state[S.SCENARIOS]]
        if spec.name in names or spec.name.lower() == "baseline":
            st.error(f"There is already a what-if called {spec.name!r}: pick another name.")
        else:
            sc.to_scenario(spec, budget)  # validate now: a bad spec never enters the list
            st.session_state[S.SCENARIOS] = [*st.session_state[S.SCENARIOS], spec.to_dict()]


def render() -> None:
    """The Scenarios page."""
    st.title("Scenarios")
    posts = session.active_posts()
    entry = session.require_model("Comparing scenarios")
    if entry is None:
        return
    if not st.session_state[S.SCENARIOS]:
        st.session_state[S.SCENARIOS] = [s.to_dict() for s in sc.default_specs()]
    budget = float(st.session_state.get(S.BUDGET) or planning.default_budget(posts))
    n_boosts = int(st.session_state.get(S.N_BOOSTS) or planning.default_n_boosts(posts))
    level = LEVELS[st.radio("Split the budget over", list(LEVELS), key="sc_level", horizontal=True)]
    if level == "post":
        curves = entry.memo("post_curves", entry.model.post_curves)
    else:
        curves = session.platform_curves(entry, n_boosts)
    platforms = [p for p in PLATFORMS if p in set(curves.platform)]
    builder(platforms, budget)

    specs = [sc.Spec(**d) for d in st.session_state[S.SCENARIOS]]
    if level == "platform" and any(s.top_n for s in specs):
        st.info(
            "'Only the top N posts' applies when splitting over candidate posts; here it keeps "
            "the top N platforms."
        )
    c = st.columns([4, 1])
    c[0].markdown("**What-ifs:** " + "; ".join(f"*{s.name}* ({s.describe()})" for s in specs))
    if c[1].button("Clear what-ifs", key=S.SC_CLEAR):
        st.session_state[S.SCENARIOS] = []
        st.rerun()

    base = planning.plan_constraints(curves, planning.PlanInputs(budget=budget))
    table = sc.run_compare(curves, specs, base)
    st.subheader("Side by side")
    st.table(sc.summary_table(table, specs))
    totals = sc.totals(table)
    session.show_chart(scenario_chart(totals))
    changes = totals[totals["scenario"] != "baseline"]
    if len(changes):
        session.show_chart(
            interval_chart(
                changes,
                label="scenario",
                mean="delta_conv_mean",
                lo80="delta_conv_p10",
                hi80="delta_conv_p90",
                lo95="delta_conv_p2_5",
                hi95="delta_conv_p97_5",
                x_title="Change in conversions vs the baseline (paired, 80% and 95%)",
                zero_rule=True,
                title="What each what-if changes",
            )
        )
    with st.expander("Spend per platform in each scenario"):
        st.dataframe(sc.spend_table(table).round(0))


if __name__ == "__main__":
    with page_guard("comparing scenarios"):
        render()
