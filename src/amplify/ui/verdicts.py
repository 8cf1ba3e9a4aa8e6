"""Plain-language verdicts on a fit's sampler diagnostics (r_hat, ESS, divergences).

A growth marketer should not need to know what r_hat is to know whether to trust the numbers: each
check becomes a :class:`Verdict` with a status (good / check / bad) and one sentence saying what it
means and what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["good", "check", "bad"]

#: r_hat at or below this is good; up to RHAT_BAD deserves a look; above is bad.
RHAT_GOOD = 1.01
RHAT_BAD = 1.05
#: Effective sample size (bulk/tail) at or above this is good; below ESS_BAD is bad.
ESS_GOOD = 400.0
ESS_BAD = 100.0

#: Plain Unicode marks (present in every font; colour emoji are not, e.g. in headless browsers).
ICONS: dict[Status, str] = {"good": "✓", "check": "⚠", "bad": "✗"}


@dataclass(frozen=True)
class Verdict:
    """One diagnostic check in plain language."""

    check: str  #: short name, e.g. "Chains agree (r_hat)"
    value: str  #: the number, formatted
    status: Status
    message: str  #: what it means for the user, and what to do

    @property
    def icon(self) -> str:
        """An emoji for the status."""
        return ICONS[self.status]


def _num(d: Any, name: str) -> float | None:
    v = d.get(name) if isinstance(d, dict) else getattr(d, name, None)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def rhat_verdict(max_rhat: float | None) -> Verdict:
    """Verdict on the largest r_hat over all parameters."""
    name = "Chains agree (r_hat)"
    if max_rhat is None:
        return Verdict(name, "–", "check", "Not available for this fit (needs two or more chains).")
    value = f"{max_rhat:.3f}"
    if max_rhat <= RHAT_GOOD:
        return Verdict(
            name, value, "good", "The independent sampling runs agree: the fit has converged."
        )
    if max_rhat <= RHAT_BAD:
        return Verdict(
            name,
            value,
            "check",
            "The sampling runs almost agree. Numbers are usable; a longer full fit would "
            "make them firmer.",
        )
    return Verdict(
        name,
        value,
        "bad",
        "The sampling runs disagree: the fit has not converged. Do not act on these numbers; "
        "refit with more tuning/draws or check the data for mistakes.",
    )


def ess_verdict(min_ess_bulk: float | None, min_ess_tail: float | None) -> Verdict:
    """Verdict on the smallest effective sample size (bulk and tail)."""
    name = "Enough independent draws (ESS)"
    vals = [v for v in (min_ess_bulk, min_ess_tail) if v is not None]
    if not vals:
        return Verdict(name, "–", "check", "Not available for this fit.")
    low = min(vals)
    value = f"{low:,.0f}"
    if low >= ESS_GOOD:
        return Verdict(
            name, value, "good", "Plenty of independent draws: ranges and averages are stable."
        )
    if low >= ESS_BAD:
        return Verdict(
            name,
            value,
            "check",
            "Averages are reliable, but the edges of the ranges may move a little on a refit.",
        )
    return Verdict(
        name,
        value,
        "bad",
        "Too few independent draws: ranges are unreliable. Refit with more draws.",
    )


def divergence_verdict(divergences: float | None, n_samples: int | None = None) -> Verdict:
    """Verdict on the number of divergent transitions (out of ``n_samples`` draws when known)."""
    name = "Sampler stayed on track (divergences)"
    if divergences is None:
        return Verdict(name, "–", "check", "Not available for this fit.")
    n = int(divergences)
    value = f"{n:,}" + (f" of {n_samples:,}" if n_samples else "")
    if n == 0:
        return Verdict(
            name, value, "good", "No divergences: the sampler explored the whole posterior."
        )
    share = n / n_samples if n_samples else None
    if share is not None and share <= 0.001:
        return Verdict(
            name,
            value,
            "check",
            "A handful of divergences: probably harmless, but a full fit with a higher "
            "target_accept would remove them.",
        )
    return Verdict(
        name,
        value,
        "bad",
        "The sampler hit regions it could not explore: parts of the posterior may be missed. "
        "Treat the numbers with caution and refit (higher target_accept) before acting.",
    )


def diagnostics_verdicts(diagnostics: Any, n_samples: int | None = None) -> list[Verdict]:
    """Verdicts for a :class:`amplify.model.Diagnostics` (or a mapping with the same field names).

    For an approximate fit (``approximate=True``: ADVI / pathfinder) the sampler checks do not apply
    and a single verdict says so.
    """
    if bool(
        diagnostics.get("approximate")
        if isinstance(diagnostics, dict)
        else getattr(diagnostics, "approximate", False)
    ):
        return [
            Verdict(
                "Fit type",
                "approximate",
                "check",
                "Fast first look: an approximation of the posterior, good for exploring. Ranges "
                "tend to be too narrow; run a full fit before committing budget.",
            )
        ]
    return [
        rhat_verdict(_num(diagnostics, "max_rhat")),
        ess_verdict(_num(diagnostics, "min_ess_bulk"), _num(diagnostics, "min_ess_tail")),
        divergence_verdict(_num(diagnostics, "divergences"), n_samples),
    ]


def overall(verdicts: list[Verdict]) -> tuple[Status, str]:
    """The worst status among ``verdicts`` and a one-line summary for the top of the page."""
    order: dict[Status, int] = {"good": 0, "check": 1, "bad": 2}
    worst: Status = max((v.status for v in verdicts), key=order.__getitem__, default="check")
    text = {
        "good": "The fit looks healthy: you can rely on these numbers and their ranges.",
        "check": "The fit is usable, with caveats listed below.",
        "bad": "The fit has problems: do not act on these numbers before fixing them.",
    }[worst]
    return worst, text
