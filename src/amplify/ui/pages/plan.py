"""Plan page: budget and limits in, the recommended split with its uncertainty out (re-plans on
every change without refitting: the response curves come from the cached fitted model)."""

from __future__ import annotations

import streamlit as st

from amplify.plotting import interval_chart
from amplify.ui import planning, session
from amplify.ui import state as S
from amplify.ui.guard import page_guard
from amplify.ui.record import default_ledger_path, plan_in_use, record_plan
from amplify.ui.tables import to_csv_bytes, to_json_bytes


def limits_inputs(platforms: list[str], budget: float) -> dict[str, planning.Limits]:
    """Per-platform min / max / lock widgets."""
    limits: dict[str, planning.Limits] = {}
    with st.expander("Per-platform limits (minimum, maximum, lock)"):
        st.caption("Maximum 0 means no maximum. A locked platform gets exactly the amount given.")
        for p in platforms:
            c = st.columns([2, 2, 2, 1, 2])
            c[0].markdown(f"**{p}**")
            lo = c[1].number_input("min $", min_value=0.0, value=0.0, step=50.0, key=S.min_key(p))
            hi = c[2].number_input("max $", min_value=0.0, value=0.0, step=50.0, key=S.max_key(p))
            locked = c[3].checkbox("lock", key=S.lock_key(p))
            if S.lock_amount_key(p) not in st.session_state:
                st.session_state[S.lock_amount_key(p)] = float(round(budget / len(platforms), -1))
            amount = c[4].number_input(
                "lock at $",
                min_value=0.0,
                step=50.0,
                key=S.lock_amount_key(p),
                disabled=not locked,
            )
            limits[p] = planning.Limits(
                min=float(lo),
                max=float(hi) if hi > 0 else None,
                lock=float(amount) if locked else None,
            )
    return limits


def render() -> None:
    """The Plan page."""
    st.title("Plan")
    posts = session.active_posts()
    entry = session.require_model("The plan")
    if entry is None:
        return
    if session.is_fast(entry):
        st.caption("⚡ Based on the **fast first look (approximate)**: ranges may be too narrow.")

    left, right = st.columns([1, 3])
    with left:
        if S.BUDGET not in st.session_state:
            st.session_state[S.BUDGET] = planning.default_budget(posts)
        budget = float(
            st.number_input("Budget for the week ($)", min_value=10.0, step=100.0, key=S.BUDGET)
        )
        if S.N_BOOSTS not in st.session_state:
            st.session_state[S.N_BOOSTS] = planning.default_n_boosts(posts)
        n_boosts = int(
            st.number_input(
                "Posts boosted per platform",
                min_value=1,
                max_value=200,
                step=1,
                key=S.N_BOOSTS,
                help="How many posts each platform's budget is spread over "
                "(more posts saturate less).",
            )
        )
        max_change = st.slider(
            "Max change vs the plan in use (% of budget)",
            min_value=0,
            max_value=100,
            value=0,
            step=5,
            key=S.MAX_CHANGE,
            help="0 = no limit. Ad platforms re-learn after big budget edits: limit how far each "
            "platform may move from the plan in use (the last plan you recorded with 'Use this "
            "plan', else your recent spend split).",
        )
        cpa = st.number_input(
            "CPA target ($, 0 = none)",
            min_value=0.0,
            value=0.0,
            step=5.0,
            key=S.CPA_TARGET,
            help="Spend less rather than pay more than this for the last conversion.",
        )
        policy_label = st.selectbox("How to choose", list(planning.POLICIES), key="plan_policy")

    curves = session.platform_curves(entry, n_boosts)
    platforms = list(dict.fromkeys(curves.platform))
    with left:
        limits = limits_inputs(platforms, budget)
    inputs = planning.PlanInputs(
        budget=budget,
        limits=limits,
        max_change=max_change / 100.0 if max_change else None,
        target_cpa=cpa or None,
        policy=planning.POLICIES[policy_label],
    )
    ledger = default_ledger_path()
    in_use = plan_in_use(ledger, st.session_state[S.DATASET_ID])
    previous = in_use or planning.current_split(posts, platforms, budget)
    with right:
        try:
            plan = planning.plan_for(curves, inputs, previous)
        except ValueError as exc:  # settings / constraint errors: say what to change
            st.error(f"These limits cannot be met: {exc}")
            return
        st.session_state[S.LAST_PLAN] = plan
        tot = plan.total
        m = st.columns(3)
        m[0].metric("Spend", f"${tot['spend']:,.0f}", help=f"of a ${budget:,.0f} budget")
        m[1].metric(
            "Expected conversions",
            f"{tot['conv_mean']:,.0f}",
            help="posterior mean",
        )
        m[1].caption(
            f"80%: {tot['conv_p10']:,.0f} – {tot['conv_p90']:,.0f} · "
            f"95%: {tot['conv_p2_5']:,.0f} – {tot['conv_p97_5']:,.0f}"
        )
        m[2].metric("Cost per conversion", f"${tot['cpa_mean']:,.2f}")
        m[2].caption(f"80%: ${tot['cpa_p10']:,.2f} – ${tot['cpa_p90']:,.2f}")
        st.table(planning.plan_table(plan))
        st.caption(
            "Ranges are posterior intervals (80% and 95%): the plan's outcome is uncertain and "
            "these "
            "say how much. Marginal CPA: what the next conversion would cost on that platform. "
            "P(best for next $): how likely that platform is the best place for one more dollar."
        )
        pp = plan.per_platform.reset_index()
        session.show_chart(
            interval_chart(
                pp,
                label="platform",
                mean="conv_mean",
                lo80="conv_p10",
                hi80="conv_p90",
                lo95="conv_p2_5",
                hi95="conv_p97_5",
                color="platform",
                x_title="Expected conversions (80% and 95% intervals)",
            )
        )
        for w in plan.warnings:
            st.warning(w)
        d = st.columns(3)
        if d[2].button("Use this plan (record it)", key="record_plan"):
            constraints = planning.plan_constraints(curves, inputs, previous)
            round_ = record_plan(
                ledger,
                st.session_state[S.DATASET_ID],
                st.session_state[S.DATASET_NAME],
                plan,
                constraints.model_dump(mode="json"),
            )
            st.success(f"Recorded as round {round_} in the ledger ({ledger}).")
        d[0].download_button(
            "Download plan (CSV)",
            to_csv_bytes(planning.plan_export(plan)),
            file_name="amplify_plan.csv",
            mime="text/csv",
            key="download_csv",
        )
        d[1].download_button(
            "Download plan (JSON)",
            to_json_bytes(planning.plan_document(plan, inputs, st.session_state[S.DATASET_NAME])),
            file_name="amplify_plan.json",
            mime="application/json",
            key="download_json",
        )


if __name__ == "__main__":
    with page_guard("building the plan"):
        render()
