"""Names of the per-session values and widget keys the app uses, in one place.

Everything a session owns lives in ``st.session_state`` under these keys (several browser sessions
never share mutable state); tests drive widgets by the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from amplify.constants import PLATFORMS

# --- session values ------------------------------------------------------------------------------
POSTS: Final = "posts"  #: the active canonical post table (pd.DataFrame)
DATASET_NAME: Final = (
    "dataset_name"  #: what the sidebar shows, e.g. "sample account" or a file name
)
DATASET_ID: Final = "dataset_id"  #: fingerprint of the active post table
PROBLEMS: Final = "data_problems"  #: the last upload's problems (pd.DataFrame) or None
LOAD_NOTES: Final = "load_notes"  #: non-fatal findings of the last successful upload, or None
UPLOAD_SEEN: Final = (
    "upload_seen"  #: file id of the last processed upload (do not re-read on each rerun)
)
MODEL_KEY: Final = "model_key"  #: cache key of the fitted model for the active data, or None
SCENARIOS: Final = "scenarios"  #: list of user-built scenario specs (dicts)
SIM_RESULT: Final = "sim_result"  #: last simulation result (pd.DataFrame) or None
LAST_PLAN: Final = "last_plan"  #: the last plan shown (for "max change" vs the plan in use)

# --- widget keys ---------------------------------------------------------------------------------
UPLOAD: Final = "upload_file"
SOURCE: Final = "upload_source"
USE_SAMPLE: Final = "use_sample"
FIT_MODE: Final = "fit_mode"
FIT_BUTTON: Final = "fit_button"
QUICK_FIT_BUTTON: Final = "quick_fit_button"
BUDGET: Final = "plan_budget"
MAX_CHANGE: Final = "plan_max_change"
CPA_TARGET: Final = "plan_cpa_target"
N_BOOSTS: Final = "plan_n_boosts"
SC_NAME: Final = "sc_name"
SC_BUDGET: Final = "sc_budget"
SC_SHOCK_PLATFORM: Final = "sc_shock_platform"
SC_CPM: Final = "sc_cpm"
SC_CVR: Final = "sc_cvr"
SC_LOCK_PLATFORM: Final = "sc_lock_platform"
SC_LOCK_AMOUNT: Final = "sc_lock_amount"
SC_TOP_N: Final = "sc_top_n"
SC_ADD: Final = "sc_add"
SC_CLEAR: Final = "sc_clear"
SIM_DAYS: Final = "sim_days"
SIM_BUDGET: Final = "sim_budget"
SIM_SEED: Final = "sim_seed"
SIM_VARIANT: Final = "sim_variant"
SIM_HISTORY: Final = "sim_history"
SIM_RUN: Final = "sim_run"

#: Options of the fit-mode radio (labels shown to the user).
FIT_FAST: Final = "Fast first look (approximate)"
FIT_FULL: Final = "Full fit (NUTS sampling)"


def mapping_key(column: str) -> str:
    """Widget key of the column-mapping select box for a canonical ``column``."""
    return f"map_{column}"


def min_key(platform: str) -> str:
    """Widget key of a platform's minimum spend."""
    return f"plan_min_{platform}"


def max_key(platform: str) -> str:
    """Widget key of a platform's maximum spend (0 means no maximum)."""
    return f"plan_max_{platform}"


def lock_key(platform: str) -> str:
    """Widget key of a platform's "lock at" toggle."""
    return f"plan_lock_{platform}"


def lock_amount_key(platform: str) -> str:
    """Widget key of the amount a locked platform is held at."""
    return f"plan_lock_amount_{platform}"


def init_session(state: Any) -> None:
    """Give a new session its empty defaults (never overwrites what a session already holds)."""
    defaults: dict[str, Any] = {
        POSTS: None,
        DATASET_NAME: None,
        DATASET_ID: None,
        PROBLEMS: None,
        LOAD_NOTES: None,
        UPLOAD_SEEN: None,
        MODEL_KEY: None,
        SCENARIOS: [],
        SIM_RESULT: None,
        LAST_PLAN: None,
    }
    for key, value in defaults.items():
        if key not in state:
            state[key] = list(value) if isinstance(value, list) else value


def platform_widget_keys() -> list[str]:
    """All per-platform plan widget keys (for resetting them when the dataset changes)."""
    return [f(p) for p in PLATFORMS for f in (min_key, max_key, lock_key, lock_amount_key)]


# --- fit settings ---------------------------------------------------------------------------------
#: Environment variable that makes every fit small (tests, CI, demos on a laptop): still a real fit.
FAST_FIT_ENV: Final = "AMPLIFY_FAST_FIT"


def fit_settings(fast: bool, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Sampler settings (``amplify.model.SamplerConfig`` fields) for the app's two fit modes.

    ``fast`` is the "first look": a variational approximation (seconds); otherwise NUTS, 2 chains.
    With ``AMPLIFY_FAST_FIT=1`` in ``environ`` both modes shrink (fewer draws) so tests stay quick.
    """
    env = os.environ if environ is None else environ
    tiny = env.get(FAST_FIT_ENV, "").strip().lower() not in ("", "0", "false", "no")
    if fast:
        if tiny:
            return {"method": "advi", "draws": 200, "advi_iterations": 2000, "seed": 0}
        return {"method": "advi", "draws": 1000, "advi_iterations": 10_000, "seed": 0}
    if tiny:
        return {"method": "nuts", "draws": 100, "tune": 100, "chains": 2, "seed": 0}
    return {
        "method": "nuts",
        "draws": 1000,
        "tune": 1000,
        "chains": 2,
        "target_accept": 0.9,
        "seed": 0,
    }
