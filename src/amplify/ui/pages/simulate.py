"""Simulate page: Thompson sampling against the baselines on a simulated world, with regret curves —
why exploring a little pays."""

from __future__ import annotations

import streamlit as st

from amplify.plotting import regret_chart
from amplify.ui import session
from amplify.ui import state as S
from amplify.ui.guard import page_guard
from amplify.ui.simulation import POLICY_COLORS, VARIANTS, run_policies


def render() -> None:
    """The Simulate page."""
    st.title("Simulate")
    st.markdown(
        "A simulated account where the true response of each platform is known. Each policy plans "
        "one day at a time, sees that day's (noisy, late-reported) conversions, learns, and plans "
        "the next day. **Regret** is the conversions it lost against a perfect-knowledge split: "
        "lower is better. A policy that never explores can lock onto a wrong belief; one that "
        "splits evenly never learns. **Past days** are what the account knew before the first "
        "plan (days of varied spend): the more of them, the less there is left to learn."
    )
    with st.form("sim_form", border=True):
        c = st.columns(5)
        days = c[0].slider("Days", 14, 120, 60, 1, key=S.SIM_DAYS)
        budget = c[1].number_input(
            "Daily budget ($)", min_value=100.0, value=3000.0, step=100.0, key=S.SIM_BUDGET
        )
        variant_label = c[2].selectbox("World", list(VARIANTS.values()), key=S.SIM_VARIANT)
        past = c[3].slider(
            "Past days",
            0,
            60,
            7,
            1,
            key=S.SIM_HISTORY,
            help="Days of varied spend before the first plan that every policy starts from.",
        )
        seed = c[4].number_input("Seed", min_value=0, value=7, step=1, key=S.SIM_SEED)
        run = st.form_submit_button("Run the simulation", type="primary")
    variant = next(k for k, v in VARIANTS.items() if v == variant_label)
    args = (int(days), float(budget), variant, int(seed), int(past))
    result = st.session_state[S.SIM_RESULT]
    if run or result is None or result[0] != args:
        with st.spinner(f"Simulating {days} days × 3 policies…"):
            res = run_policies(
                days=args[0], budget=args[1], variant=args[2], seed=args[3], history_days=args[4]
            )
        st.session_state[S.SIM_RESULT] = (args, res)
    _, res = st.session_state[S.SIM_RESULT]

    session.show_chart(regret_chart(res.daily, colors=POLICY_COLORS))
    summary = res.summary.rename(
        columns={
            "policy": "Policy",
            "conversions": "Expected conversions",
            "oracle": "Best possible",
            "pct_of_oracle": "% of best possible",
            "regret": "Conversions lost",
            "churn_pct": "Budget moved per day (%)",
        }
    ).set_index("Policy")
    st.table(summary.style.format("{:,.1f}"))
    best = res.summary.iloc[0]
    st.caption(
        f"Best here: **{best['policy']}** at {best['pct_of_oracle']:.1f}% of the best possible. "
        "Same world, same daily noise for every policy, so the differences are the policies'."
    )


if __name__ == "__main__":
    with page_guard("running the simulation"):
        render()
