"""A daily simulated world for the online campaign loop and the allocation benchmark.

Each arm (a platform, or a post on a platform) has a true spend -> conversions curve from a family
the model does *not* assume (:mod:`amplify.simulate.families`). Each day brings multiplicative
shocks (common and per arm), actual spend that deviates from the set spend, impressions, clicks,
over-dispersed conversion counts, and conversions reported over the following days. Variants change
the truth over time.

Noise is *paired*: the variates of a day depend only on ``(seed, day)`` and are drawn before the
spend is known, then transformed by the spend-dependent means (inverse CDFs on pre-drawn uniforms).
Two policies run on the same world see the same shocks, so their difference is not blurred by noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from amplify.constants import FACEBOOK, INSTAGRAM, PLATFORMS, TIKTOK
from amplify.simulate.families import FAMILIES, CurveSet, make_curves, oracle_split

try:
    # the ufunc behind ``scipy.stats.binom.ppf``; the public method re-checks its arguments on every
    # call (~35x slower for a handful of arms, a tenth of the allocation benchmark's time), and our
    # arguments are valid by construction; tests/test_simulate_campaign.py checks that they agree.
    from scipy.special._ufuncs import _binom_ppf
except ImportError:  # pragma: no cover - a SciPy that moved it
    _binom_ppf = stats.binom.ppf

__all__ = ["DELAY_PMF", "VARIANTS", "CampaignWorld", "DayOutcome"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

VARIANTS: tuple[str, ...] = ("stationary", "mild_change", "severe_change", "drift")
#: Share of a day's conversions first reported 0, 1, ..., 6 days later.
DELAY_PMF: FloatArray = np.array([0.45, 0.25, 0.12, 0.08, 0.05, 0.03, 0.02])


class _Base(NamedTuple):
    """Per-platform anchors of the campaign world (a day, platform level)."""

    cpm: float  # per 1000 impressions at low spend; sets the CTR: eff = 1000 / cpm * ctr * cvr
    cvr: float  # conversions per click (relative: FB 39 : TikTok 36 : IG 29)
    eff: float  # conversions per unit spend setting the curve level (average CPA at K is 2 / eff)
    K: float  # daily saturation spend of the platform


# The implied paid CTR (eff * cpm / 1000 / cvr) is 1.03% (FB), 0.83% (IG), 1.25% (TikTok); K says
# how much daily spend the platform absorbs before returns fall off.
_BASES: dict[str, _Base] = {
    FACEBOOK: _Base(cpm=10.0, cvr=0.039, eff=0.036, K=3000.0),
    INSTAGRAM: _Base(cpm=8.0, cvr=0.029, eff=0.029, K=500.0),
    TIKTOK: _Base(cpm=6.0, cvr=0.036, eff=0.085, K=500.0),
}
_SHOCK_COMMON_SD = 0.07
_SHOCK_ARM_SD = 0.07
_SPEND_SD = 0.05
_IMPR_SD = 0.05
_CONV_ALPHA = 20.0


@dataclass(frozen=True)
class DayOutcome:
    """What one day of a plan produced.

    Attributes
    ----------
    day
        Day index.
    spend_set
        ``(n_arms,)`` the spend the plan asked for.
    spend
        ``(n_arms,)`` what the platforms actually spent (deviates a few percent).
    impressions, clicks, conversions
        ``(n_arms,)`` counts; ``conversions`` are *all* conversions eventually attributed to this
        day.
    expected
        ``(n_arms,)`` true expected conversions for the actual spend (no shock, no noise).
    report_delay
        ``(n_arms, max_delay + 1)``: conversions of this day first reported ``d`` days later; rows
        sum to ``conversions``.
    """

    day: int
    spend_set: FloatArray
    spend: FloatArray
    impressions: IntArray
    clicks: IntArray
    conversions: IntArray
    expected: FloatArray
    report_delay: IntArray


class _Noise(NamedTuple):
    """The day's pre-drawn variates (independent of any spend)."""

    shock: FloatArray  # multiplicative, mean 1
    spend_mult: FloatArray
    impr_mult: FloatArray
    u_click: FloatArray
    gamma: FloatArray  # mean-1 Gamma(alpha) for the negative binomial
    u_conv: FloatArray
    u_delay: FloatArray  # (n_arms, max_delay)


class CampaignWorld:
    """A daily world whose true curves come from a family the model does not assume.

    Parameters
    ----------
    seed
        Seeds the truth (curves, variant details) and, with the day, every day's noise.
    arms
        Arm names: platform names (default: the three platforms) or ``"platform:post"`` names
        (see :meth:`posts`).
    platform
        The platform of each arm; derived from the arm names when omitted.
    family
        ``"hill"`` (``A s^n / (s^n + K^n)``, ``n`` in 0.7..2), ``"power"`` (``c s^a``, ``a`` in
        0.3..0.8), ``"tanh"`` (``A tanh(s / K)``) or ``"mixed"`` (one family drawn per arm).
    variant
        ``"stationary"``; ``"mild_change"`` (the arm with the largest oracle share loses 30%
        efficiency at ``horizon // 2``); ``"severe_change"`` (the best and the worst arm swap curves
        at ``horizon // 2``); ``"drift"`` (smooth drift of each arm's efficiency plus weekly
        seasonality).
    horizon
        Planned number of days (sets the change day and the drift span; later days still work).
    daily_budget
        The daily budget the default parameters are scaled for.
    """

    def __init__(
        self,
        seed: int,
        *,
        arms: Sequence[str] = PLATFORMS,
        platform: Sequence[str] | None = None,
        family: str = "mixed",
        variant: str = "stationary",
        horizon: int = 90,
        daily_budget: float = 3000.0,
    ) -> None:
        if family not in (*FAMILIES, "mixed"):
            raise ValueError(f"family must be one of {[*FAMILIES, 'mixed']}, got {family!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
        if horizon < 2:
            raise ValueError(f"horizon must be at least 2 days, got {horizon}")
        if not (math.isfinite(daily_budget) and daily_budget > 0):
            raise ValueError(f"daily_budget must be positive, got {daily_budget}")
        self.seed = int(seed)
        self.arms: tuple[str, ...] = tuple(arms)
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms):
            raise ValueError("a campaign world needs at least two arms with unique names")
        self.platform: tuple[str, ...] = (
            tuple(platform) if platform is not None else tuple(_platform_of(a) for a in self.arms)
        )
        if len(self.platform) != len(self.arms):
            raise ValueError(f"platform has {len(self.platform)} entries for {len(self.arms)} arms")
        unknown = sorted(set(self.platform) - set(PLATFORMS))
        if unknown:
            raise ValueError(f"unknown platforms {unknown}; known: {list(PLATFORMS)}")
        self.family_choice = family
        self.variant = variant
        self.horizon = int(horizon)
        self.daily_budget = float(daily_budget)
        self.delay_pmf: FloatArray = DELAY_PMF.copy()
        self.change_day: int | None = self.horizon // 2 if variant.endswith("_change") else None
        self._build_truth()

    # --- construction
    @classmethod
    def posts(cls, seed: int, n_posts: int = 20, **kw: object) -> CampaignWorld:
        """A world whose arms are ``n_posts`` posts (``"platform:postNN"``) on all platforms."""
        if not 2 <= n_posts <= 500:
            raise ValueError(f"n_posts must be in 2..500, got {n_posts}")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9057]))
        plats = [PLATFORMS[i % len(PLATFORMS)] for i in range(n_posts)]
        rng.shuffle(plats)
        counter: dict[str, int] = {}
        arms = []
        for p in plats:
            counter[p] = counter.get(p, 0) + 1
            arms.append(f"{p}:post{counter[p]:02d}")
        return cls(seed, arms=arms, platform=plats, **kw)  # type: ignore[arg-type]

    def _build_truth(self) -> None:
        n = len(self.arms)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xA125]))
        post_level = any(a not in PLATFORMS for a in self.arms)
        per_platform = {p: max(1, self.platform.count(p)) for p in PLATFORMS}
        fams: list[str] = []
        eff = np.empty(n)
        K = np.empty(n)
        shape = np.empty(n)
        ctr = np.empty(n)
        cvr = np.empty(n)
        cpm = np.empty(n)
        for j, p in enumerate(self.platform):
            base = _BASES[p]
            fam_draw = FAMILIES[int(rng.integers(len(FAMILIES)))]
            fam = fam_draw if self.family_choice == "mixed" else self.family_choice
            z_eff, z_k, u_shape = rng.normal(), rng.normal(), rng.random()
            scale_k = self.daily_budget / 3000.0
            if post_level:
                # posts share the platform's audience: smaller saturation, more spread in efficiency
                eff[j] = base.eff * math.exp(0.4 * z_eff)
                K[j] = base.K * scale_k / per_platform[p] * math.exp(0.35 * z_k)
            else:
                eff[j] = base.eff * math.exp(0.25 * z_eff)
                K[j] = base.K * scale_k * math.exp(0.3 * z_k)
            shape[j] = 0.7 + 1.3 * u_shape if fam == "hill" else 0.3 + 0.5 * u_shape
            fams.append(fam)
            cvr[j] = base.cvr * math.exp(0.1 * rng.normal())
            cpm[j] = base.cpm * math.exp(0.1 * rng.normal())
            ctr[j] = min(eff[j] * cpm[j] / 1000.0 / cvr[j], 0.2)
        self.families: tuple[str, ...] = tuple(fams)
        self.curves0: CurveSet = make_curves(self.families, eff, K, shape)
        self.ctr: FloatArray = ctr
        self.cpm: FloatArray = cpm
        self.cvr: FloatArray = cvr
        # impressions per conversion: conversions = impressions * ctr * cvr
        self._impr_per_conv = 1.0 / (ctr * cvr)
        # variant details, decided once per world
        uniform = np.full(n, self.daily_budget / n)
        at_uniform = self.curves0.value(uniform)
        self.best_arm = int(np.argmax(at_uniform))
        self.worst_arm = int(np.argmin(at_uniform))
        self.changed_arm: int | None = None
        if self.variant == "mild_change":
            split = oracle_split(self.curves0, self.daily_budget)
            self.changed_arm = int(np.argmax(split))
        drift_rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xD81F]))
        # log-efficiency change over the horizon: arms spread evenly over -0.4..+0.4 in a random
        # order
        spread = np.linspace(-0.4, 0.4, n) + drift_rng.normal(0.0, 0.1, n)
        self._drift_total = drift_rng.permutation(spread)
        self._weekly_phase = 7.0 * drift_rng.random() + drift_rng.normal(0.0, 0.7, n)
        self._weekly_amp = 0.12

    # --- truth per day
    def curves(self, day: int) -> CurveSet:
        """The true curves on ``day`` (variant applied, no random shock)."""
        c = self.curves0
        if self.variant == "mild_change" and self.change_day is not None and day >= self.change_day:
            mult = np.ones(len(self.arms))
            assert self.changed_arm is not None
            mult[self.changed_arm] = 0.7
            c = c.scaled(mult)
        elif (
            self.variant == "severe_change"
            and self.change_day is not None
            and day >= self.change_day
        ):
            order = np.arange(len(self.arms))
            order[self.best_arm], order[self.worst_arm] = self.worst_arm, self.best_arm
            c = c.permuted(order)
        elif self.variant == "drift":
            t = (day - self.horizon / 2.0) / self.horizon
            weekly = 1.0 + self._weekly_amp * np.sin(2.0 * np.pi * (day + self._weekly_phase) / 7.0)
            c = c.scaled(np.exp(self._drift_total * t) * weekly)
        return c

    def expected(self, spend: ArrayLike, day: int) -> FloatArray:
        """True expected conversions per arm on ``day`` (no shock, no noise).

        ``spend`` has shape ``(n_arms,)`` or ``(..., n_arms)`` for many splits at once.
        """
        return self.curves(day).value(self._check_spend(spend, allow_batch=True))

    def oracle(
        self,
        budget: float,
        day: int,
        lower: ArrayLike | None = None,
        upper: ArrayLike | None = None,
    ) -> FloatArray:
        """The best split of ``budget`` on ``day`` for the true expected conversions (grid DP, exact
        to ~budget/100000)."""
        return oracle_split(self.curves(day), float(budget), lower, upper)

    # --- noise
    def _noise(self, day: int) -> _Noise:
        day = int(day)
        code = 2 * day if day >= 0 else -2 * day - 1
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xDA7, code]))
        n = len(self.arms)
        z_common = rng.normal()
        z_arm = rng.normal(size=n)
        var = _SHOCK_COMMON_SD**2 + _SHOCK_ARM_SD**2
        shock = np.exp(_SHOCK_COMMON_SD * z_common + _SHOCK_ARM_SD * z_arm - var / 2.0)
        spend_mult = np.exp(_SPEND_SD * rng.normal(size=n))
        impr_mult = np.exp(_IMPR_SD * rng.normal(size=n) - _IMPR_SD**2 / 2.0)
        eps = 1e-12
        u_click = np.clip(rng.random(n), eps, 1 - eps)
        gamma = rng.gamma(_CONV_ALPHA, 1.0 / _CONV_ALPHA, size=n)
        u_conv = np.clip(rng.random(n), eps, 1 - eps)
        u_delay = np.clip(rng.random((n, len(self.delay_pmf) - 1)), eps, 1 - eps)
        return _Noise(shock, spend_mult, impr_mult, u_click, gamma, u_conv, u_delay)

    def shocks(self, day: int) -> FloatArray:
        """The day's multiplicative shock per arm (mean 1); it depends on ``(seed, day)`` only."""
        return self._noise(day).shock

    def step(self, spend: ArrayLike, day: int) -> DayOutcome:
        """Run ``spend`` (the set spend per arm) on ``day`` and return the noisy outcome.

        The day's variates come from ``(seed, day)`` only, so every policy sees the same shocks and
        an arm whose spend is unchanged gets exactly the same counts.
        """
        spend_set = self._check_spend(spend)
        nz = self._noise(day)
        actual = spend_set * nz.spend_mult
        curves = self.curves(day)
        expected = curves.value(actual)
        mean = expected * nz.shock
        impressions = np.rint(mean * self._impr_per_conv * nz.impr_mult).astype(np.int64)
        clicks = _binom_ppf(nz.u_click, impressions, self.ctr)
        conv = stats.poisson.ppf(nz.u_conv, mean * nz.gamma)
        conversions = np.nan_to_num(conv, nan=0.0).astype(np.int64)
        return DayOutcome(
            day=int(day),
            spend_set=spend_set,
            spend=actual,
            impressions=impressions,
            clicks=np.nan_to_num(clicks, nan=0.0).astype(np.int64),
            conversions=conversions,
            expected=expected,
            report_delay=self._split_delays(conversions, nz.u_delay),
        )

    def _split_delays(self, conversions: IntArray, u: FloatArray) -> IntArray:
        pmf = self.delay_pmf
        out = np.zeros((len(conversions), len(pmf)), dtype=np.int64)
        remaining = conversions.astype(np.int64).copy()
        for d in range(len(pmf) - 1):
            p = pmf[d] / pmf[d:].sum()
            x = np.nan_to_num(_binom_ppf(u[:, d], remaining, p), nan=0.0).astype(np.int64)
            x = np.minimum(x, remaining)
            out[:, d] = x
            remaining = remaining - x
        out[:, -1] = remaining
        return out

    # --- pre-period ---
    def history(self, days: int = 60, rng_seed: int | None = None) -> pd.DataFrame:
        """A pre-period of ``days`` days (numbered ``-days .. -1``) with randomly perturbed daily
        spends.

        Returns
        -------
        pandas.DataFrame
            Long format, one row per day and arm: ``day, arm, platform, spend`` (actual),
            ``impressions, clicks, conversions`` (fully reported). Same ``(seed, days, rng_seed)``
            -> same table.
        """
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        n = len(self.arms)
        rng = np.random.default_rng(
            np.random.SeedSequence(
                [self.seed, 0x4157, 0 if rng_seed is None else int(rng_seed) + 1]
            )
        )
        rows = []
        for day in range(-days, 0):
            level = self.daily_budget * math.exp(0.2 * rng.normal())
            w = np.exp(0.6 * rng.normal(size=n))
            out = self.step(level * w / w.sum(), day)
            for j in range(n):
                rows.append(
                    (
                        day,
                        self.arms[j],
                        self.platform[j],
                        round(float(out.spend[j]), 2),
                        int(out.impressions[j]),
                        int(out.clicks[j]),
                        int(out.conversions[j]),
                    )
                )
        return pd.DataFrame(
            rows,
            columns=["day", "arm", "platform", "spend", "impressions", "clicks", "conversions"],
        )

    # --- helpers
    def _check_spend(self, spend: ArrayLike, *, allow_batch: bool = False) -> FloatArray:
        s = np.asarray(spend, dtype=float)
        n = len(self.arms)
        if (s.ndim != 1 and not allow_batch) or s.shape[-1:] != (n,):
            raise ValueError(
                f"spend must have shape ({n},) for arms {list(self.arms)}; got {s.shape}"
            )
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError("spend must be finite and non-negative")
        return s

    def __repr__(self) -> str:
        return (
            f"CampaignWorld(seed={self.seed}, arms={len(self.arms)}, "
            f"family={self.family_choice!r}, variant={self.variant!r}, horizon={self.horizon}, "
            f"daily_budget={self.daily_budget})"
        )


def _platform_of(arm: str) -> str:
    name = arm.split(":", 1)[0]
    if name not in PLATFORMS:
        raise ValueError(
            f"cannot tell the platform of arm {arm!r}: name it 'platform:post' or pass platform=..."
        )
    return name
