"""The app's page scripts (run by ``st.navigation`` from ``app.py``; each lays out one page).

They are scripts, not library code: importing one does nothing, Streamlit runs it as ``__main__``.
"""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent
DATA = PAGES_DIR / "data.py"
MODEL = PAGES_DIR / "model.py"
PLAN = PAGES_DIR / "plan.py"
SCENARIOS = PAGES_DIR / "scenarios.py"
SIMULATE = PAGES_DIR / "simulate.py"
