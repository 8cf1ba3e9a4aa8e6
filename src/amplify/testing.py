"""Synthetic posteriors for tests and examples: :class:`~amplify.curves.ResponseCurves` without
fitting a model.

:func:`synthetic_curves` draws a "true" curve per arm, then posterior-like draws around a centre
that is itself a noisy estimate of the truth (as a real posterior would be), with the negative
correlation between ``beta`` and ``k`` that fits of saturating curves show. The truth is kept in
``meta`` so :func:`true_curves` can hand it to an oracle. Scales follow the simulated world:
``beta`` ~ 0.02-0.08 conversions per unit of spend, ``k`` in the hundreds to thousands.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from amplify.constants import PLATFORMS
from amplify.curves import ResponseCurves

__all__ = ["synthetic_curves", "true_curves"]


def _names(n_arms: int, posts: bool | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    platform = tuple(PLATFORMS[j % len(PLATFORMS)] for j in range(n_arms))
    if posts is None:
        posts = n_arms > len(PLATFORMS)
    if not posts:
        if n_arms > len(PLATFORMS):
            raise ValueError(
                f"only {len(PLATFORMS)} platform arms exist; use posts=True for more arms"
            )
        return platform, platform
    arms = tuple(f"{p}:p{j:03d}" for j, p in enumerate(platform))
    return arms, platform


def synthetic_curves(
    n_arms: int = 3,
    n_draws: int = 500,
    seed: int = 0,
    *,
    posts: bool | None = None,
    arms: Sequence[str] | None = None,
    platform: Sequence[str] | None = None,
    beta: ArrayLike | None = None,
    k: ArrayLike | None = None,
    spread: float = 0.25,
    centre_noise: float | None = None,
    correlation: float = -0.5,
    value: float | None = None,
    max_observed_spend: ArrayLike | None = None,
) -> ResponseCurves:
    """Posterior-like draws of one saturating curve per arm.

    Parameters
    ----------
    n_arms, n_draws, seed
        Size and randomness (same seed, same curves).
    posts
        Arms are posts (``"facebook:p000"``, cycling over the platforms) rather than platforms;
        default: posts when ``n_arms > 3``.
    arms, platform
        Explicit names (override ``posts``).
    beta, k
        True parameters per arm (default: log-normal around 0.04 and 1000).
    spread
        Posterior sd on the log scale of ``beta`` and ``k`` (0: every draw is the centre).
    centre_noise
        Sd (log scale) of the posterior centre around the truth; default ``spread`` (a calibrated
        posterior).
    correlation
        Correlation of the ``log beta`` and ``log k`` draws.
    value
        Revenue per conversion (draws within ±10%), for ROAS; None: no value.
    max_observed_spend
        Largest spend observed per arm; default: the true ``k``.
    """
    if n_arms < 1 or n_draws < 1:
        raise ValueError("n_arms and n_draws must be >= 1")
    if not -1.0 < correlation < 1.0:
        raise ValueError("correlation must be in (-1, 1)")
    rng = np.random.default_rng(seed)
    if arms is None:
        names, plats = _names(n_arms, posts)
    else:
        names = tuple(arms)
        plats = tuple(platform) if platform is not None else tuple(a.split(":")[0] for a in names)
    if platform is not None and arms is None:
        plats = tuple(platform)
    if len(names) != n_arms or len(plats) != n_arms:
        raise ValueError(f"need {n_arms} arm and platform names")
    b_true = (
        np.exp(rng.normal(np.log(0.04), 0.4, n_arms))
        if beta is None
        else np.broadcast_to(np.asarray(beta, dtype=float), (n_arms,)).copy()
    )
    k_true = (
        np.exp(rng.normal(np.log(1000.0), 0.5, n_arms))
        if k is None
        else np.broadcast_to(np.asarray(k, dtype=float), (n_arms,)).copy()
    )
    cn = spread if centre_noise is None else centre_noise
    b_c = b_true * np.exp(cn * rng.standard_normal(n_arms))
    k_c = k_true * np.exp(cn * rng.standard_normal(n_arms))
    z1 = rng.standard_normal((n_draws, n_arms))
    z2 = correlation * z1 + np.sqrt(1.0 - correlation**2) * rng.standard_normal((n_draws, n_arms))
    b_draws = b_c * np.exp(spread * z1 - 0.5 * spread**2)
    k_draws = k_c * np.exp(spread * z2 - 0.5 * spread**2)
    val = None
    if value is not None:
        val = value * np.exp(0.05 * rng.standard_normal((n_draws, n_arms)))
    seen = k_true if max_observed_spend is None else max_observed_spend
    return ResponseCurves(
        arms=names,
        beta=b_draws,
        k=k_draws,
        platform=plats,
        value=val,
        max_observed_spend=np.broadcast_to(np.asarray(seen, dtype=float), (n_arms,)).copy(),
        meta={
            "synthetic": True,
            "seed": seed,
            "true_beta": b_true,
            "true_k": k_true,
            "true_value": value,
        },
    )


def true_curves(curves: ResponseCurves) -> ResponseCurves:
    """The one-draw truth behind curves made by :func:`synthetic_curves` (for an oracle)."""
    if "true_beta" not in curves.meta:
        raise ValueError("these curves carry no truth (made by synthetic_curves?)")
    b = np.asarray(curves.meta["true_beta"], dtype=float)[None, :]
    k = np.asarray(curves.meta["true_k"], dtype=float)[None, :]
    value = curves.meta.get("true_value")
    return ResponseCurves(
        arms=curves.arms,
        beta=b,
        k=k,
        platform=curves.platform,
        value=None if value is None else np.full_like(b, float(value)),  # type: ignore[arg-type]
        max_observed_spend=curves.max_observed_spend,
        meta={"truth": True},
    )
