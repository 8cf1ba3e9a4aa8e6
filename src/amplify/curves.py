"""Posterior draws of saturating spend -> conversions curves: the model/decisions contract.

The model produces a :class:`ResponseCurves`; the allocator, the what-if scenarios, the app and the
notebooks consume it. It holds plain numpy arrays (no PyMC), so decision code never depends on the
estimator.

Curve family (one per arm and posterior draw)::

    conversions(s) = beta * s / (1 + s / k)

``beta`` is conversions per unit of spend at the first unit (1 / CPA at low spend); ``k`` is the
spend at which the average CPA has doubled (the marginal return at ``k`` is ``beta / 4``). The
curve is increasing and concave, so the best split of a budget for one draw is found exactly by
water-filling on the marginal return ``beta / (1 + s / k) ** 2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def mm_conversions(spend: ArrayLike, beta: ArrayLike, k: ArrayLike) -> FloatArray:
    """Expected conversions ``beta * s / (1 + s / k)``, broadcast over all arguments."""
    s = np.asarray(spend, dtype=float)
    return np.asarray(beta, dtype=float) * s / (1.0 + s / np.asarray(k, dtype=float))


def mm_marginal(spend: ArrayLike, beta: ArrayLike, k: ArrayLike) -> FloatArray:
    """Marginal conversions per unit of spend ``beta / (1 + s / k) ** 2``."""
    s = np.asarray(spend, dtype=float)
    return np.asarray(beta, dtype=float) / (1.0 + s / np.asarray(k, dtype=float)) ** 2


@dataclass(frozen=True)
class ResponseCurves:
    """Posterior draws of one saturating response curve per arm.

    Parameters
    ----------
    arms
        Arm names: platforms (``"facebook"``) or posts (``"instagram:p123"``).
    beta, k
        Arrays of shape ``(n_draws, n_arms)``: see the module docstring.
    platform
        The platform each arm belongs to (for per-platform constraints and summaries).
    value
        Optional revenue per conversion, shape ``(n_draws, n_arms)``, for ROAS.
    max_observed_spend
        Largest spend per arm seen in the data the curves were learned from (one boost, or one day
        for a
        platform arm); plans beyond a few times this are extrapolations and are flagged.
    """

    arms: tuple[str, ...]
    beta: FloatArray
    k: FloatArray
    platform: tuple[str, ...]
    value: FloatArray | None = None
    max_observed_spend: FloatArray | None = None
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        beta = np.atleast_2d(np.asarray(self.beta, dtype=float))
        k = np.atleast_2d(np.asarray(self.k, dtype=float))
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "platform", tuple(self.platform))
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "k", k)
        n_arms = len(self.arms)
        if beta.shape != k.shape or beta.shape[1] != n_arms:
            raise ValueError(
                f"beta {beta.shape} and k {k.shape} must both be (n_draws, {n_arms})"
                f" for {n_arms} arms"
            )
        if len(self.platform) != n_arms:
            raise ValueError(f"platform has {len(self.platform)} entries for {n_arms} arms")
        if len(set(self.arms)) != n_arms:
            raise ValueError("arm names must be unique")
        if not (np.all(np.isfinite(beta)) and np.all(beta >= 0)):
            raise ValueError("beta must be finite and non-negative")
        if not (np.all(np.isfinite(k)) and np.all(k > 0)):
            raise ValueError("k must be finite and positive")
        if self.value is not None:
            value = np.atleast_2d(np.asarray(self.value, dtype=float))
            if value.shape != beta.shape:
                raise ValueError(f"value {value.shape} must match beta {beta.shape}")
            object.__setattr__(self, "value", value)
        if self.max_observed_spend is not None:
            mos = np.asarray(self.max_observed_spend, dtype=float).reshape(n_arms)
            object.__setattr__(self, "max_observed_spend", mos)

    # --- shape ------------------------------------------------------------------------------------
    @property
    def n_draws(self) -> int:
        return int(self.beta.shape[0])

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    # --- evaluation
    # --------------------------------------------------------------------------------
    def conversions(self, spend: ArrayLike) -> FloatArray:
        """Expected conversions per draw and arm; ``spend`` is ``(n_arms,)`` or ``(n_draws,
        n_arms)``."""
        return mm_conversions(spend, self.beta, self.k)

    def marginal(self, spend: ArrayLike) -> FloatArray:
        """Marginal conversions per unit of spend, per draw and arm."""
        return mm_marginal(spend, self.beta, self.k)

    def revenue(self, spend: ArrayLike) -> FloatArray:
        """Expected revenue per draw and arm (requires ``value``)."""
        if self.value is None:
            raise ValueError("these curves carry no revenue per conversion; ROAS is not available")
        return self.conversions(spend) * self.value

    # --- selection and what-ifs
    # --------------------------------------------------------------------
    def take_draws(self, idx: ArrayLike) -> ResponseCurves:
        """Curves restricted to the posterior draws ``idx`` (e.g. one draw for Thompson
        sampling)."""
        i = np.atleast_1d(np.asarray(idx, dtype=int))
        return self._replace(
            beta=self.beta[i],
            k=self.k[i],
            value=None if self.value is None else self.value[i],
        )

    def take_arms(self, names: Sequence[str]) -> ResponseCurves:
        """Curves restricted to the named arms, in the given order."""
        pos = {a: j for j, a in enumerate(self.arms)}
        missing = [n for n in names if n not in pos]
        if missing:
            raise KeyError(f"unknown arms {missing}; known: {list(self.arms)}")
        j = np.array([pos[n] for n in names], dtype=int)
        return ResponseCurves(
            arms=tuple(names),
            beta=self.beta[:, j],
            k=self.k[:, j],
            platform=tuple(self.platform[i] for i in j),
            value=None if self.value is None else self.value[:, j],
            max_observed_spend=None
            if self.max_observed_spend is None
            else self.max_observed_spend[j],
            meta=self.meta,
        )

    def shocked(
        self,
        platform: str | None = None,
        *,
        cpm: float = 0.0,
        cvr: float = 0.0,
    ) -> ResponseCurves:
        """Curves under a relative shock on one platform (or all when ``platform`` is None).

        ``cpm=0.2`` means CPMs rise 20%: each unit of spend buys 1/1.2 the impressions, and the
        spend at
        which the audience saturates rises by the same factor. ``cvr=-0.1`` means 10% fewer
        conversions
        per impression.
        """
        if cpm <= -1.0 or cvr <= -1.0:
            raise ValueError("a shock must be above -100%")
        mask = np.array([platform is None or p == platform for p in self.platform])
        if platform is not None and not mask.any():
            raise KeyError(
                f"no arm on platform {platform!r}; platforms: {sorted(set(self.platform))}"
            )
        beta = self.beta.copy()
        k = self.k.copy()
        beta[:, mask] *= (1.0 + cvr) / (1.0 + cpm)
        k[:, mask] *= 1.0 + cpm
        return self._replace(beta=beta, k=k)

    def _replace(self, **changes: object) -> ResponseCurves:
        fields: dict[str, Any] = {
            "arms": self.arms,
            "beta": self.beta,
            "k": self.k,
            "platform": self.platform,
            "value": self.value,
            "max_observed_spend": self.max_observed_spend,
            "meta": self.meta,
        }
        fields.update(changes)
        return ResponseCurves(**fields)
