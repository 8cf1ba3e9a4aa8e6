"""A fast online posterior over per-arm response curves, for the daily campaign loop.

Each arm (a platform, or a post on a platform) has a daily curve ``E[conversions] = beta * g(s)``.
Inside the learner ``g`` is a Hill-type curve ``g_{k,n}(s) = k * x**n / (1 + x**n)`` with ``x = s /
k``: ``n = 1`` is the :mod:`amplify.curves` family ``s / (1 + s / k)``, ``n < 1`` bends like a power
law, ``n > 1`` is S-shaped (a platform that needs spend before it delivers). Real curves are not
exactly one family; a learner that can only bend one way starves an S-shaped arm (low returns at low
spend look like a bad arm). The posterior is exact up to a grid over ``(k, n)``:

* ``k`` lives on a log-spaced grid (``0.05x .. 20x`` the arm's reference daily spend by default),
  ``n`` on a few shapes;
* for each grid point the posterior of ``beta`` is a conjugate Gamma under a Poisson likelihood
  ``conversions_d ~ Poisson(beta * g(s_d) * f_d)``, where ``f_d`` is the share of day ``d``'s
  conversions reported so far (the reporting-delay CDF at the day's age), so late conversions are
  never mistaken for a bad day; its Gamma prior is centred by empirical Bayes on the conversion
  rate of the other posts on the arm's platform, itself shrunk towards the account's (a platform
  with one arm: the account's rate), so a new post starts where its platform's posts are;
* the grid weights are updated by the Gamma-Poisson marginal likelihood, from a prior on ``k``
  that posts on the same platform share (``log k`` normal around a platform mean; each post's
  prior is what the other posts of its platform say);
* the paid funnel: where a day's paid impressions are reported, they inform the shape too. As in
  :mod:`amplify.model` (``log impressions = log(1000 s / cpm) - log1p(s / k)``), saturation acts
  on delivery: impressions follow the same curve ``g_{k,n}`` up to a scale, ``log impressions_d =
  log c + log g_{k,n}(s_d) + N(0, sigma^2)``, while conversions per impression do not depend on
  the day's spend. With ``log c`` flat and a weak prior on ``sigma``, each grid point's marginal
  likelihood is ``(nu0 sigma0^2 + SS)^{-(nu0 + m - 1) / 2}`` (``SS``: the sum of squared deviations
  of ``log impressions - log g`` from their mean over the ``m`` days). Impressions are complete the
  same day and come in the thousands, with far less noise than a few dozen over-dispersed
  conversions reported over a week: the curve's bend is learned from them in days, where
  conversions alone would need the plan to move far (and leave it to the prior while it sits
  still).
* drift: an arm's level ``beta`` may wander (creative fatigue, auctions, seasons). It is a
  Poisson-Gamma discount process (Smith 1979; West & Harrison 1997, ch. 14): from one day to the
  next its Gamma posterior keeps its mean and its evidence is multiplied by ``delta``, so old days
  count ``delta ** age`` towards the level, and each grid point's marginal likelihood is the
  product of the days' one-step-ahead predictive densities (for ``delta = 1`` it is the static
  model's, exactly). ``delta`` is chosen per platform from a few candidates by its posterior
  probability. By default a platform's level is tracked where the platform is one arm; posts
  (several arms on a platform) keep a static level unless ``LearnerConfig.tracking_drift()``
  (``LearnerConfig.static()``: every level static).

The allocator works on the ``beta * s / (1 + s / k)`` family
(:class:`~amplify.curves.ResponseCurves`), which it solves exactly. Each grid point's curve is
therefore handed over in that family, approximating the curve's concave envelope (what an optimal
split can actually use of an S-shape): around today's plan by a tangent match (same level and
marginal return at the plan's spend; :meth:`OnlineCurveLearner.curves` ``around=``), otherwise by
least squares on relative levels and marginal returns over the whole spend range (those fits depend
only on the grid, so they are computed once and cached).

Count noise in real accounts is over-dispersed (negative binomial, daily shocks), so each day enters
as a quasi-likelihood ``likelihood ** w_d`` with ``w_d = 1 / (1 + mu_d / kappa)``: the Poisson
variance ``mu`` is inflated to the negative-binomial ``mu + mu**2 / kappa``, with ``1 / kappa``
estimated from the residuals (corrected for the curve parameters fitted to the same days, which
would otherwise make a few days look less noisy than they are). The delay distribution is estimated
from the data (cumulative conversions seen at successive ages) with the default as a prior. Beyond
the level's discount (above), old data are forgotten when a change detector fires: the posterior
predictive of the last few days, fitted on the days before them (with a static level), is compared
with what was observed, against the count noise of those earlier days (residuals that include a
change would take it for noise); beyond a threshold the days before the change are discounted, the
change being dated inside the window by a scan of its residuals (a long window that fires late also
holds days from before the change, which must go with the old data).

Updating is a few vectorised array operations over (days x arms x grid): a few milliseconds for 90
days of a platform campaign, so the whole state is recomputed from the per-day data at every update
(and rebuilt exactly by replaying a ledger). This module never imports PyMC;
``benchmarks/allocation.py`` compares it with a full refit of the same model (PyMC's SMC).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaincinv, gammaln

from amplify.curves import ResponseCurves

FloatArray = NDArray[np.float64]

#: Prior of the day-to-day noise sd of log paid impressions: ``_IMPR_NU0`` pseudo-days at
#: ``_IMPR_SIGMA0`` (a scaled inverse chi-squared; weak: a week of data outweighs it). It keeps a
#: grid point that happens to fit a few days perfectly from being believed absolutely.
_IMPR_SIGMA0 = 0.15
_IMPR_NU0 = 2.0

#: Grid points (per arm, the most probable) over which a level discount's Bayes factor is taken.
_SELECT_POINTS = 32

#: The default candidate level discounts and their prior (README, "Benchmarks": what they do on
#: the allocation benchmark).
DRIFT_DISCOUNTS = (1.0, 0.97, 0.94, 0.9)
DRIFT_DISCOUNT_PRIOR = (0.4, 0.2, 0.2, 0.2)

#: Settings added after campaign ledgers existed, at the value that reproduces the learner of
#: those ledgers: a ledger that lacks them was written before them (:meth:`LearnerConfig.settings`,
#: :meth:`LearnerConfig.from_settings`).
_SETTINGS_BEFORE: dict[str, object] = {
    "level_discounts": (1.0,),
    "level_discount_prior": (1.0,),
    "track_posts": True,
}

#: Share of a day's conversions first reported 0, 1, ..., 6 days later (typical attribution).
DEFAULT_DELAY_PMF: tuple[float, ...] = (0.45, 0.25, 0.12, 0.08, 0.05, 0.03, 0.02)


@dataclass(frozen=True)
class LearnerConfig:
    """Settings of :class:`OnlineCurveLearner`.

    Parameters
    ----------
    n_grid
        Number of grid points for the saturation spend ``k``.
    k_range
        Grid span as multiples of the arm's reference daily spend.
    shapes
        Grid of the Hill shape ``n`` (1 is the allocator's family; below 1 power-law-like, above 1
        S-shaped).
    shape_prior
        Prior weights of ``shapes``.
    max_spend
        Largest daily spend per arm worth describing well (default: the sum of the reference spends,
        i.e. the whole budget): the range of the approximation handed to the allocator.
    log_k_prior_sd
        Prior sd of ``log(k / reference_spend)`` (weak default prior; centred on ``k = reference``;
        the grid ``k_range`` truncates it). 1.5, which puts 95% of the prior on the grid's span,
        was measured against this default on the allocation benchmark and not adopted (README,
        "Benchmarks").
    rate_prior_shape
        Gamma shape of the weak default prior on the conversion rate at the reference spend; its
        mean is a pooled rate (empirical Bayes: the account's, or the platform's, see
        ``platform_pooling``), so arms shrink towards their peers.
    platform_pooling
        Arms that share a platform with other arms (posts) shrink towards their platform instead:
        the prior mean of each arm's rate is the rate of the other arms on its platform, itself
        shrunk towards the account rate by this many days of one arm's reference spend. ``None``:
        every arm shrinks towards the account rate. No effect when each platform has one arm.
    k_pooling_sd
        Arms that share a platform with other arms (posts) also share what is learned about the
        saturation spend ``k``: ``log(k / reference_spend)`` of every arm on a platform is drawn
        around a platform mean with this sd, the mean having the default ``log_k_prior_sd`` prior.
        Each arm's prior is the one the other arms of its platform imply (leave-one-out, so an
        arm's own days are not counted twice), so a post with few days starts where its platform's
        posts saturate. ``None``: each arm has the default prior. No effect when each platform has
        one arm, or with an informative ``prior``. The two poolings together are the default: on
        two sets of 100 twenty-post worlds of the allocation benchmark they cut the daily churn of
        the default policy by 0.84 and 0.76 points of the budget and greedy's by 0.94 and 0.81,
        and moved % of oracle by +0.50 and -0.08 points (default policy) and +0.40 and +0.21
        (greedy), each within noise (README, "Benchmarks").
    overdispersion
        ``1 / kappa`` of the negative-binomial noise; ``None`` estimates it from residuals.
    delay_pmf
        Prior reporting-delay pmf over ages ``0..len-1`` days.
    delay_prior_strength
        Pseudo-conversions behind ``delay_pmf`` when the pmf is re-estimated from data.
    estimate_delay
        Re-estimate the delay pmf from the ages at which conversions were reported.
    detect_windows
        Lengths (days) of the recent windows checked for a change. Short windows catch abrupt
        changes early; the 28-day one catches, later, shifts too small for them (the change is then
        dated inside the window, so the days before it are forgotten and the days after it kept).
    detect_threshold
        Two-sided z threshold of the posterior predictive surprise that declares a change.
    min_history
        Effective days needed before a window to test it.
    forget_factor
        Weight kept by the days before a detected change.
    half_life
        Optional steady exponential discount of old days (days); ``None`` forgets only on detected
        changes.
    prior_max_shape
        Cap on the Gamma shape moment-matched from informative prior curves (do not over-trust a
        model).
    use_impressions
        Let reported paid impressions inform each arm's curve shape ``(k, n)`` (module docstring:
        the paid funnel). Days without impressions (``NaN``) carry conversions only. On the
        allocation benchmark this lifted the default policy by 0.9-3.0 points of % of oracle per
        variant, paired world by world (README, "Benchmarks"). ``False``: conversions alone.
    impressions_days
        The impressions' evidence about the shape counts as at most this many days: their log
        likelihood is scaled by ``zeta / (zeta + m)`` after ``m`` days (a coarsened posterior,
        Miller & Dunson 2019). No family of curves is the truth; uncoarsened, a month of
        impressions makes the learner sure of the best-fitting shape on the grid, and its intervals
        too narrow (README, "Benchmarks": on the allocation benchmark the marginal return's 80%
        interval covered the truth 0.66 of the time after 60 days; 0.78 with 20). ``None``: the
        exact marginal likelihood.
    dispersion_dof
        Parameters fitted per arm (``beta`` and ``k``) that the over-dispersion estimate corrects
        its residuals for: residuals of a fitted curve are smaller than the noise, by ``1 - p / n``
        after ``n`` days. Without the correction the estimate after a few days sits at its floor
        and the posterior is too sure of what those noisy days say (README, "Benchmarks": the
        learner's interval coverage); 0 switches it off.
    level_discounts
        Candidate daily discounts ``delta`` of each arm's level ``beta`` (module docstring: drift).
        The level is a Poisson-Gamma discount process: between two days its Gamma posterior keeps
        its mean and loses ``1 - delta`` of its evidence per day, so the curve's height follows
        slow drift while its shape ``(k, n)`` is still learned from every day. Each refresh picks,
        per platform, the candidate with the highest posterior probability (the marginal
        likelihood of its arms' days, a product of one-step-ahead predictive densities, times
        ``level_discount_prior``). ``(1.0,)``: a static level (:meth:`static`). The default
        candidates gain on changing and drifting worlds of the allocation benchmark and cost
        nothing on stationary ones (README, "Benchmarks"). The over-dispersion is still estimated
        around a static level's fit.
    level_discount_prior
        Prior probabilities of ``level_discounts``.
    track_posts
        Let the level of arms that share their platform with other arms (posts) drift too. Off by
        default: their platform's discount is then chosen from the summed evidence of its posts,
        each post's level is followed from its own few recent conversions, and on twenty-post
        worlds of the allocation benchmark the plans moved 5.2% of the budget a day (against 4.9%)
        for no gain (README, "Benchmarks"). :meth:`tracking_drift` turns it on.
    """

    n_grid: int = 40
    k_range: tuple[float, float] = (0.05, 20.0)
    shapes: tuple[float, ...] = (0.5, 0.7, 1.0, 1.4, 2.0)
    shape_prior: tuple[float, ...] = (0.15, 0.2, 0.3, 0.2, 0.15)
    max_spend: float | None = None
    log_k_prior_sd: float = 2.5
    rate_prior_shape: float = 2.0
    platform_pooling: float | None = 3.0
    k_pooling_sd: float | None = 0.5
    overdispersion: float | None = None
    delay_pmf: tuple[float, ...] = DEFAULT_DELAY_PMF
    delay_prior_strength: float = 50.0
    estimate_delay: bool = True
    detect_windows: tuple[int, ...] = (3, 7, 14, 28)
    detect_threshold: float = 5.0
    min_history: float = 10.0
    forget_factor: float = 0.02
    half_life: float | None = None
    prior_max_shape: float = 30.0
    dispersion_dof: float = 2.0
    use_impressions: bool = True
    impressions_days: float | None = 20.0
    level_discounts: tuple[float, ...] = DRIFT_DISCOUNTS
    level_discount_prior: tuple[float, ...] = DRIFT_DISCOUNT_PRIOR
    track_posts: bool = False

    @classmethod
    def tracking_drift(cls, **kwargs: object) -> LearnerConfig:
        """Settings under which every arm's level may drift, posts' too (other settings as
        ``kwargs``)."""
        return cls(track_posts=True, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def static(cls, **kwargs: object) -> LearnerConfig:
        """Settings under which every level is static (other settings as ``kwargs``)."""
        return cls(level_discounts=(1.0,), level_discount_prior=(1.0,), **kwargs)  # type: ignore[arg-type]

    @property
    def tracks_drift(self) -> bool:
        """Whether any level may drift."""
        return any(d < 1.0 for d in self.level_discounts)

    def settings(self) -> dict[str, object]:
        """The settings as a dict (``dataclasses.asdict``) for a ledger. Settings added later are
        left out where they have the value of the learner from before them, so a campaign started
        then resumes with the same learner: a static learner (which ``track_posts`` does not
        affect) and one tracking every level store what they stored then."""
        out = asdict(self)
        if not self.tracks_drift:
            for key in ("level_discounts", "level_discount_prior", "track_posts"):
                del out[key]
        elif self.track_posts:
            del out["track_posts"]
        return out

    @classmethod
    def from_settings(cls, settings: dict[str, object]) -> LearnerConfig:
        """The config stored by :meth:`settings` (in a ledger, as JSON: lists become tuples);
        settings missing from an older ledger take the value its learner had."""
        kwargs = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in ({**_SETTINGS_BEFORE, **settings}).items()
        }
        return cls(**kwargs)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        lo, hi = self.k_range
        if self.n_grid < 2 or not 0 < lo < hi:
            raise ValueError(f"need n_grid >= 2 and 0 < k_range[0] < k_range[1]; got {self}")
        pmf = np.asarray(self.delay_pmf, dtype=float)
        if pmf.ndim != 1 or pmf.size == 0 or np.any(pmf < 0) or pmf.sum() <= 0:
            raise ValueError("delay_pmf must be a non-empty vector of non-negative weights")
        if not 0 <= self.forget_factor <= 1:
            raise ValueError("forget_factor must be in [0, 1]")
        if self.rate_prior_shape <= 0 or self.log_k_prior_sd <= 0:
            raise ValueError("rate_prior_shape and log_k_prior_sd must be positive")
        if self.dispersion_dof < 0:
            raise ValueError(f"dispersion_dof must be >= 0, got {self.dispersion_dof}")
        if self.platform_pooling is not None and self.platform_pooling <= 0:
            raise ValueError("platform_pooling must be positive or None")
        if self.k_pooling_sd is not None and self.k_pooling_sd <= 0:
            raise ValueError("k_pooling_sd must be positive or None")
        if self.impressions_days is not None and self.impressions_days <= 0:
            raise ValueError("impressions_days must be positive or None")
        if (
            not self.level_discounts
            or len(self.level_discounts) != len(self.level_discount_prior)
            or not all(0 < d <= 1 for d in self.level_discounts)
            or min(self.level_discount_prior) <= 0
        ):
            raise ValueError(
                "level_discounts must be in (0, 1] and level_discount_prior positive, equally long"
            )
        if (
            not self.shapes
            or len(self.shapes) != len(self.shape_prior)
            or min(self.shapes) <= 0
            or min(self.shape_prior) <= 0
        ):
            raise ValueError("shapes and shape_prior must be equally long and positive")


@dataclass(frozen=True)
class ChangeEvent:
    """A detected change: at ``detected_day`` the days of ``arm`` before ``start_day`` were
    discounted."""

    arm: str
    detected_day: int
    start_day: int
    z: float


@dataclass
class _Posterior:
    """Grid posterior of every arm: log grid weights and Gamma (shape, rate) per grid point."""

    logw: FloatArray  # (A, G), normalised per arm
    shape: FloatArray  # (A, G)
    rate: FloatArray  # (A, G)
    log_prior: FloatArray  # (A, G): the grid prior these weights started from
    #: (D, A, G): the level's mean on each data day where levels are discounted (None: shape / rate)
    day_level: FloatArray | None = None

    @property
    def weights(self) -> FloatArray:
        return np.exp(self.logw)


class _ImpressionTerms(NamedTuple):
    """A refresh's days of log impressions ``li`` (0 where ``has`` is False) against ``log g``."""

    has: NDArray[np.bool_]  # (D, A)
    li: FloatArray  # (D, A)
    logg: FloatArray  # (D, A, G)
    logg2: FloatArray  # (D, A, G)
    li_logg: FloatArray  # (D, A, G)


@dataclass
class _Data:
    """Per-day data: spend, latest cumulative conversions and their age, per arm."""

    days: list[int] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)
    spend: list[FloatArray] = field(default_factory=list)
    conv: list[FloatArray] = field(default_factory=list)
    age: list[FloatArray] = field(default_factory=list)
    impressions: list[FloatArray] = field(default_factory=list)
    by_age: list[FloatArray] = field(
        default_factory=list
    )  # (A, L) cumulative conversions seen at age a


class OnlineCurveLearner:
    """Online grid-Gamma posterior over saturating curves, one per arm.

    Parameters
    ----------
    arms
        Arm names.
    platform
        Platform of each arm (defaults to the arm name before ``":"``).
    reference_spend
        Typical daily spend per arm (scalar or one per arm): centres the ``k`` grid and defines the
        rate the priors talk about. The campaign uses ``budget / n_arms``.
    prior
        Optional informative prior: curves (e.g. a fitted BoostModel's platform curves) with the
        same arms. Their draws are moment-matched onto the grid (log-normal ``k``, Gamma rate at the
        reference spend).
    config
        :class:`LearnerConfig`.

    Notes
    -----
    Feed data with :meth:`observe` (cumulative conversions of a day as reported ``age`` days after
    it; a later report of the same day replaces the earlier one) and call :meth:`refresh` once per
    round; then :meth:`curves` gives posterior draws for the allocator. The state is a deterministic
    function of the sequence of observations and refreshes, so replaying a ledger rebuilds it
    exactly.
    """

    def __init__(
        self,
        arms: Sequence[str],
        platform: Sequence[str] | None = None,
        *,
        reference_spend: float | ArrayLike,
        prior: ResponseCurves | None = None,
        config: LearnerConfig | None = None,
    ) -> None:
        self.arms = tuple(arms)
        if len(set(self.arms)) != len(self.arms) or not self.arms:
            raise ValueError("arms must be a non-empty sequence of unique names")
        self.platform = (
            tuple(platform) if platform is not None else tuple(a.split(":")[0] for a in self.arms)
        )
        if len(self.platform) != len(self.arms):
            raise ValueError(f"platform has {len(self.platform)} entries for {len(self.arms)} arms")
        ref = np.broadcast_to(np.asarray(reference_spend, dtype=float), (len(self.arms),)).copy()
        if not np.all(np.isfinite(ref) & (ref > 0)):
            raise ValueError("reference_spend must be positive and finite")
        self.reference_spend = ref
        names = sorted(set(self.platform))
        #: (A, P) one-hot platform membership of every arm
        self._onehot = np.array([[p == q for q in names] for p in self.platform], dtype=float)
        #: (A,) arms that share their platform with other arms (posts): what pooling acts on
        self._has_peers = self._onehot @ self._onehot.sum(axis=0) > 1
        self.config = config or LearnerConfig()
        #: (A,) arms whose level may drift: posts only with ``track_posts``
        self._tracked = ~self._has_peers | self.config.track_posts
        self.prior = prior.take_arms(self.arms) if prior is not None else None
        cfg = self.config
        mult = np.geomspace(cfg.k_range[0], cfg.k_range[1], cfg.n_grid)
        shapes = np.asarray(cfg.shapes, dtype=float)
        # the grid axis G runs over (k, n) pairs: k fastest
        self._kmult = np.tile(mult, shapes.size)  # (G,)
        self._n = np.repeat(shapes, mult.size)  # (G,)
        self._log_nprior = np.repeat(
            np.log(np.asarray(cfg.shape_prior) / np.sum(cfg.shape_prior)), mult.size
        )
        self._k = ref[:, None] * self._kmult[None, :]  # (A, G)
        self._log_mult = np.log(self._kmult)
        total = float(cfg.max_spend) if cfg.max_spend is not None else float(ref.sum())
        self.max_spend = max(total, float(ref.max()))
        # per arm: whole-range approximation (beta multiplier, k / reference) of every grid point
        tables = [_mm_table(mult, shapes, self.max_spend / float(r)) for r in ref]
        self._mm_beta = np.stack([b for b, _ in tables])  # (A, G)
        self._mm_k_ratio = np.stack([kr for _, kr in tables])  # (A, G)
        self._pmf0 = np.asarray(cfg.delay_pmf, dtype=float) / np.sum(cfg.delay_pmf)
        self._g_ref = self._g(ref[None, :])[0]  # (A, G): g at the reference spend
        self._set_prior()
        self._set_k_pooling()
        self.reset()

    # --- state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every observation (back to the prior)."""
        self._data = _Data()
        self._g_cache: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}
        self._design: dict[str, FloatArray] = {}
        self._spend_now = np.zeros((0, self.n_arms))
        self._log_impr_now = np.zeros((0, self.n_arms))
        self._impr_terms: _ImpressionTerms | None = None
        self._forget: dict[int, FloatArray] = {}  # day -> (A,) multiplicative weights
        self.change_events_: list[ChangeEvent] = []
        self.overdispersion_ = (
            self.config.overdispersion if self.config.overdispersion is not None else 0.05
        )
        self.delay_pmf_ = self._pmf0.copy()
        self.level_discount_ = np.ones(self.n_arms)
        self._post = _Posterior(
            logw=self._logprior_k - _logsumexp(self._logprior_k)[:, None],
            shape=np.broadcast_to(self._a0, self._k.shape).copy(),
            rate=self._b0(self._default_rate()).copy(),
            log_prior=self._logprior_k,
        )
        self._last_tested_day: int | None = None
        self.n_refreshes_ = 0

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    @property
    def n_days(self) -> int:
        """Number of days with data."""
        return len(self._data.days)

    def days_since_change(self) -> int | None:
        """Days from the newest detected change to the newest day with data (None: no change)."""
        if not self.change_events_ or not self._data.days:
            return None
        newest = max(self._data.days)
        return int(newest - max(e.detected_day for e in self.change_events_))

    @property
    def k_grid(self) -> FloatArray:
        """The ``k`` of every grid point, shape ``(n_arms, n_grid * n_shapes)``."""
        return self._k.copy()

    @property
    def shape_grid(self) -> FloatArray:
        """The Hill shape ``n`` of every grid point, shape ``(n_grid * n_shapes,)``."""
        return self._n.copy()

    def _g(self, s: FloatArray) -> FloatArray:
        """``g_{k,n}(s)`` for spends ``s`` of shape (D, A) -> (D, A, G)."""
        x = s[:, :, None] / self._k[None, :, :]
        xn = x ** self._n[None, None, :]
        return np.asarray(self._k[None, :, :] * xn / (1.0 + xn))

    # --- priors -----------------------------------------------------------------------------------
    def _set_prior(self) -> None:
        cfg = self.config
        if self.prior is None:
            z = self._log_mult / cfg.log_k_prior_sd
            self._logprior_k = np.broadcast_to(-0.5 * z**2 + self._log_nprior, self._k.shape).copy()
            self._a0 = np.full((self.n_arms, 1), cfg.rate_prior_shape)
            self._prior_rate_mean: FloatArray | None = None
            return
        p = self.prior
        logk = np.log(p.k)
        mu = logk.mean(axis=0)
        sd = np.maximum(logk.std(axis=0), 0.15)
        self._logprior_k = -0.5 * ((np.log(self._k) - mu[:, None]) / sd[:, None]) ** 2
        # the model's curves are the n = 1 family: keep most prior mass there
        bonus = np.full(self._n.shape, np.log(0.1))
        bonus[self._n == 1.0] = np.log(0.6)
        self._logprior_k = self._logprior_k + bonus[None, :]
        rate = p.beta / (
            1.0 + self.reference_spend[None, :] / p.k
        )  # conversions per spend at reference
        m = rate.mean(axis=0)
        v = np.maximum(rate.var(axis=0), 1e-12)
        shape = np.clip(m**2 / v, 0.5, cfg.prior_max_shape)
        self._a0 = shape[:, None]
        self._prior_rate_mean = m

    def _set_k_pooling(self) -> None:
        """Grids of the platform-pooled prior on ``log(k / reference)`` (``k_pooling_sd``)."""
        cfg = self.config
        sd = cfg.k_pooling_sd
        self._k_pooled = sd is not None and self.prior is None and bool(self._has_peers.any())
        if sd is None or not self._k_pooled:
            return
        x = self._log_mult[: cfg.n_grid]  # (M,) log(k / reference) of the grid
        mu = np.linspace(x[0], x[-1], 2 * cfg.n_grid)  # (H,) the platform mean's grid
        # P(k on grid point m | platform mean mu): a normal around mu, normalised on the grid
        kern = np.exp(-0.5 * ((x[None, :] - mu[:, None]) / sd) ** 2)
        self._k_kernel = kern / kern.sum(axis=1, keepdims=True)  # (H, M)
        # the same for every grid point (k, n): summing the shapes out is part of the product
        self._k_kernel_g = np.tile(self._k_kernel.T, (len(cfg.shapes), 1))  # (G, H)
        lp = -0.5 * (mu / cfg.log_k_prior_sd) ** 2
        self._k_mu_prior = lp - _logsumexp(lp[None, :])  # (H,)

    def _k_prior(self, loglik: FloatArray) -> FloatArray:
        """Log prior of every arm's ``(k, n)`` grid given the data's log likelihood ``(A, G)``.

        The default prior, or with ``k_pooling_sd`` for arms with platform peers: each peer's
        likelihood of the platform mean (``k`` and ``n`` summed out) times the mean's prior, then
        the arm's ``k`` drawn around it, times the shape prior."""
        if not self._k_pooled:
            return self._logprior_k
        # log p(data_a | mu_h), up to a constant per arm, k and n summed out: (A, H)
        lik_mu = _log_matmul(loglik + self._log_nprior, self._k_kernel_g)
        h = self._onehot
        post_mu = self._k_mu_prior + (h @ (h.T @ lik_mu) - lik_mu)  # the other arms on the platform
        prior_k = _log_matmul(post_mu, self._k_kernel)  # (A, M)
        prior_k = prior_k - _logsumexp(prior_k)[:, None]
        pooled = np.tile(prior_k, (1, len(self.config.shapes))) + self._log_nprior[None, :]
        return np.where(self._has_peers[:, None], pooled, self._logprior_k)

    def _default_rate(self) -> FloatArray:
        """Prior mean conversion rate at the reference spend, per arm."""
        if self._prior_rate_mean is not None:
            return self._prior_rate_mean
        return np.full(self.n_arms, 0.02)

    def _b0(self, rate_mean: FloatArray) -> FloatArray:
        """Gamma rate of ``beta | k, n``: the rate at the reference spend has mean ``rate_mean``."""
        scale = rate_mean[:, None] * self.reference_spend[:, None] / self._g_ref
        return np.asarray(self._a0 / scale)

    # --- data -------------------------------------------------------------------------------------
    def observe(
        self,
        day: int,
        spend: ArrayLike,
        conversions: ArrayLike,
        *,
        age: int | ArrayLike,
        impressions: ArrayLike | None = None,
    ) -> None:
        """Record one day's data as reported ``age`` days after it.

        Parameters
        ----------
        day
            Day index of the spend.
        spend
            Actual spend per arm that day (``NaN`` = no data for that arm).
        conversions
            Conversions of that day reported so far (cumulative), per arm.
        age
            Days between the day and the report (0 = same day), scalar or per arm. A report with a
            larger or equal age replaces an earlier one.
        impressions
            Paid impressions of that day per arm (``NaN`` or None: not reported); they inform the
            curve's shape (``LearnerConfig.use_impressions``).
        """
        a = self.n_arms
        s = np.broadcast_to(np.asarray(spend, dtype=float), (a,)).copy()
        c = np.broadcast_to(np.asarray(conversions, dtype=float), (a,)).copy()
        ag = np.broadcast_to(np.asarray(age, dtype=float), (a,)).copy()
        imp = np.full(a, np.nan)
        if impressions is not None:
            imp = np.broadcast_to(np.asarray(impressions, dtype=float), (a,)).copy()
        if (
            np.any(s[np.isfinite(s)] < 0)
            or np.any(c[np.isfinite(c)] < 0)
            or np.any(imp[np.isfinite(imp)] < 0)
            or np.any(ag < 0)
        ):
            raise ValueError(
                f"day {day}: spend, conversions, impressions and age must be non-negative"
            )
        d = self._data
        i = d.index.get(int(day))
        n_age = self._pmf0.size
        if i is None:
            i = len(d.days)
            d.index[int(day)] = i
            d.days.append(int(day))
            d.spend.append(np.full(a, np.nan))
            d.conv.append(np.full(a, np.nan))
            d.age.append(np.full(a, -1.0))
            d.impressions.append(np.full(a, np.nan))
            d.by_age.append(np.full((a, n_age), np.nan))
        ok = np.isfinite(s) & np.isfinite(c) & (ag >= d.age[i])
        d.spend[i][ok] = s[ok]
        d.conv[i][ok] = c[ok]
        d.age[i][ok] = ag[ok]
        seen = ok & np.isfinite(imp)
        d.impressions[i][seen] = imp[seen]
        for j in np.flatnonzero(ok):
            d.by_age[i][j, min(int(ag[j]), n_age - 1)] = c[j]

    # --- the update -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the posterior from all data; run the change detector on the newest day."""
        self.n_refreshes_ += 1
        if self.n_days == 0:
            return
        if self.config.estimate_delay:
            self.delay_pmf_ = self._estimate_delay()
        s, c, f, valid, days = self._arrays()
        g, logg = self._g_days(s)
        self._impr_terms = self._impressions_terms(logg)
        omega = self._day_weights(days, valid)
        shape_ll = self._impressions_loglik(omega)
        # quasi-likelihood weights from the previous posterior's fitted means, then once more from
        # the new posterior (with the over-dispersion re-estimated from its residuals)
        mu = self._fitted(self._post, g) * f
        post, mu = self._fit(g, logg, c, f, omega, mu, self.overdispersion_, shape_ll)
        if self.config.overdispersion is None:
            self.overdispersion_ = _moment_overdispersion(
                c,
                self._static_means(post, g, logg, c, f, shape_ll),
                valid & (omega > 0.5),
                self.config.dispersion_dof,
            )
        post, mu = self._fit(
            g, logg, c, f, omega, mu, self.overdispersion_, shape_ll, select_discount=True
        )
        newest = max(days)
        if self._last_tested_day is None or newest > self._last_tested_day:
            self._last_tested_day = newest
            if self._detect(g, logg, c, f, omega, days, valid, mu):
                omega = self._day_weights(days, valid)
                shape_ll = self._impressions_loglik(omega)
                post, mu = self._fit(g, logg, c, f, omega, mu, self.overdispersion_, shape_ll)
        self._post = post

    def _arrays(
        self,
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_], NDArray[np.int64]]:
        d = self._data
        s = np.array(d.spend)
        c = np.array(d.conv)
        age = np.array(d.age)
        valid = np.isfinite(s) & np.isfinite(c) & (s > 0)
        cdf = np.cumsum(self.delay_pmf_)
        f = cdf[np.clip(age, 0, cdf.size - 1).astype(int)]
        self._spend_now = np.where(valid, s, 0.0)
        imp = np.array(d.impressions)
        with np.errstate(divide="ignore", invalid="ignore"):
            self._log_impr_now = np.where(valid & (imp > 0), np.log(imp), np.nan)
        return (
            self._spend_now,
            np.where(valid, c, 0.0),
            np.where(valid, f, 1.0),
            valid,
            np.array(d.days, dtype=np.int64),
        )

    def _day_weights(self, days: NDArray[np.int64], valid: NDArray[np.bool_]) -> FloatArray:
        omega = np.ones(valid.shape)
        for i, day in enumerate(days):
            w = self._forget.get(int(day))
            if w is not None:
                omega[i] *= w
        if self.config.half_life is not None:
            age = days.max() - days
            omega *= 0.5 ** (age / self.config.half_life)[:, None]
        return np.where(valid, omega, 0.0)

    def _estimate_delay(self) -> FloatArray:
        """Delay pmf from the cumulative conversions seen at each age of matured days (smoothed)."""
        d = self._data
        n_age = self._pmf0.size
        cdf0 = np.cumsum(self._pmf0)
        if not d.by_age:
            return self._pmf0.copy()
        by_age = np.array(d.by_age)  # (D, A, L)
        final = by_age[:, :, n_age - 1]
        matured = np.isfinite(final) & (final > 0)
        strength = self.config.delay_prior_strength
        cdf = np.empty(n_age)
        for a in range(n_age - 1):
            seen = matured & np.isfinite(by_age[:, :, a])
            num = np.sum(np.where(seen, by_age[:, :, a], 0.0))
            den = np.sum(np.where(seen, final, 0.0))
            cdf[a] = (num + strength * cdf0[a]) / (den + strength)
        cdf[n_age - 1] = 1.0
        cdf = np.clip(np.maximum.accumulate(cdf), 1e-3, 1.0)
        return np.diff(cdf, prepend=0.0)

    def _fit(
        self,
        g: FloatArray,
        logg: FloatArray,
        c: FloatArray,
        f: FloatArray,
        omega: FloatArray,
        mu: FloatArray,
        inv_kappa: float,
        shape_ll: FloatArray | None,
        select_discount: bool = False,
    ) -> tuple[_Posterior, FloatArray]:
        """Grid posterior with quasi-likelihood weights ``omega / (1 + mu / kappa)`` (and the
        impressions' ``shape_ll`` for the same ``omega``); with ``select_discount``, the level
        discounts are chosen again from it (:meth:`_select_discount`) and, when they change, the
        posterior refitted.

        Returns it and its fitted daily means ``mu * f``."""
        rate_mean = self._pooled_rate(c, f, omega)
        w = omega / (1.0 + mu * inv_kappa)
        post = self._posterior(g, logg, c, f, w, rate_mean, shape_ll)
        if select_discount:
            delta = self._select_discount(post, g, c, f, w, self._b0(rate_mean))
            if not np.array_equal(delta, self.level_discount_):
                self.level_discount_ = delta
                post = self._posterior(g, logg, c, f, w, rate_mean, shape_ll)
        self._design = {
            "conversions": c,
            "reported_share": f,
            "weight": w,
            "rate_mean": rate_mean,
            "log_prior": post.log_prior,
            "log_impressions": np.where(self.config.use_impressions, self._log_impr_now, np.nan),
            "impressions_weight": omega,
        }
        return post, self._fitted(post, g) * f

    def _static_means(
        self,
        post: _Posterior,
        g: FloatArray,
        logg: FloatArray,
        c: FloatArray,
        f: FloatArray,
        shape_ll: FloatArray | None,
    ) -> FloatArray:
        """Fitted daily means ``mu * f`` of a static level, with the weights of the last
        :meth:`_fit` (``post``): the over-dispersion is estimated around them. Each day's own
        filtered level would have followed that day's noise and left the estimate at its floor."""
        if np.all(self.level_discount_ == 1.0):
            return self._post_mean_at(post, g) * f
        w, rate_mean = self._design["weight"], self._design["rate_mean"]
        ones = np.ones(self.n_arms)
        static = self._posterior(g, logg, c, f, w, rate_mean, shape_ll, discount=ones)
        return self._post_mean_at(static, g) * f

    def _g_days(self, s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``g`` of every day's spend and its log, each (D, A, G), cached per day (a day's spend
        rarely changes)."""
        cache = self._g_cache
        rows = []
        for i in range(s.shape[0]):
            hit = cache.get(i)
            if hit is None or not np.array_equal(hit[0], s[i]):
                g = self._g(s[i][None, :])[0]
                hit = (s[i].copy(), g, np.log(np.maximum(g, 1e-300)))
                cache[i] = hit
            rows.append(hit)
        return np.stack([r[1] for r in rows]), np.stack([r[2] for r in rows])

    def _pooled_rate(self, c: FloatArray, f: FloatArray, omega: FloatArray) -> FloatArray:
        if self._prior_rate_mean is not None:
            return self._prior_rate_mean
        ref = float(np.mean(self.reference_spend))
        pseudo = 0.5 * ref
        cf = omega * c
        sf = omega * self._spend_now * f
        account = (np.sum(cf) + 0.02 * pseudo) / (np.sum(sf) + pseudo)
        days = self.config.platform_pooling
        if days is None:
            return np.full(self.n_arms, account)
        num, den = cf.sum(axis=0), sf.sum(axis=0)  # (A,)
        # leave-one-out platform rate: the other arms on the arm's platform, shrunk to the account
        h = self._onehot
        others_num = h @ (h.T @ num) - num
        others_den = h @ (h.T @ den) - den
        pooled = (others_num + account * days * ref) / (others_den + days * ref)
        return np.where(self._has_peers, pooled, account)

    def _posterior(
        self,
        g: FloatArray,
        logg: FloatArray,
        c: FloatArray,
        f: FloatArray,
        w: FloatArray,
        rate_mean: FloatArray,
        shape_loglik: FloatArray | None = None,
        discount: FloatArray | None = None,
    ) -> _Posterior:
        """Grid posterior from the days' conversions (quasi-likelihood weights ``w``), plus
        ``shape_loglik`` (A, G): what other data (the impressions) say about ``(k, n)``; the level
        discounted per arm by ``discount`` (default: ``level_discount_``)."""
        b0 = self._b0(rate_mean)
        delta = self.level_discount_ if discount is None else discount
        loglik, shape, rate, day_level = self._level_loglik(g, c, f, w, b0, delta)
        loglik = loglik + np.einsum("da,dag->ag", w * c, logg)
        if shape_loglik is not None:
            loglik = loglik + shape_loglik
        log_prior = self._k_prior(loglik)
        logw = log_prior + loglik
        logw = logw - _logsumexp(logw)[:, None]
        return _Posterior(
            logw=logw, shape=shape, rate=rate, log_prior=log_prior, day_level=day_level
        )

    def _select_discount(
        self,
        post: _Posterior,
        g: FloatArray,
        c: FloatArray,
        f: FloatArray,
        w: FloatArray,
        b0: FloatArray,
    ) -> FloatArray:
        """Per arm, its platform's candidate of ``level_discounts`` with the highest posterior
        probability: the prior times the marginal likelihood of the platform's arms (1 for posts
        without ``track_posts``).

        Against the discount ``post`` was fitted with, a candidate's Bayes factor is the
        posterior expectation of the per-grid-point likelihood ratio (the grid prior held fixed),
        ``p(y | delta) / p(y | delta_now) = E_post[p(y | k, n, delta) / p(y | k, n, delta_now)]``,
        taken over the ``_SELECT_POINTS`` grid points with the most posterior weight."""
        cands = np.asarray(self.config.level_discounts, dtype=float)
        tracked = self._tracked
        if cands.size == 1 or not tracked.any():
            return np.where(tracked, cands[0], 1.0)
        top = np.argsort(-post.logw, axis=1)[:, :_SELECT_POINTS]  # (A, K)
        g_top = np.take_along_axis(g, top[None, :, :], axis=2)  # (D, A, K)
        b0_top = np.take_along_axis(np.broadcast_to(b0, post.logw.shape), top, axis=1)
        logw = np.take_along_axis(post.logw, top, axis=1)
        logw = logw - _logsumexp(logw)[:, None]
        now = self._level_loglik(g_top, c, f, w, b0_top, self.level_discount_)[0]
        score = np.empty((cands.size, self.n_arms))
        for i, d in enumerate(cands):
            ll = self._level_loglik(g_top, c, f, w, b0_top, np.full(self.n_arms, d))[0]
            score[i] = _logsumexp(logw + ll - now)
        # one discount per platform: its arms' log Bayes factors add up (posts of a platform share
        # its auctions and seasons, and one post's few conversions rarely tell drift from noise)
        score = score @ self._onehot  # (C, H)
        score += np.log(np.asarray(self.config.level_discount_prior))[:, None]
        best = cands[np.argmax(score, axis=0)]  # (H,)
        return np.where(tracked, self._onehot @ best, 1.0)

    def _level_loglik(
        self,
        g: FloatArray,
        c: FloatArray,
        f: FloatArray,
        w: FloatArray,
        b0: FloatArray,
        delta: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
        """Log marginal likelihood of the conversions with ``beta`` integrated out (A, G; without
        the ``sum w c log g`` term), the newest day's Gamma (shape, rate) of ``beta``, and the
        level's mean on every day (D, A, G; None when no level is discounted).

        The level is a Poisson-Gamma discount process with daily discount ``delta`` (A,): the data
        part of the Gamma posterior decays by ``delta ** gap`` between days, so the likelihood is
        the product of one-step-ahead predictive densities, each the ratio of the Gamma
        normalisers after and before the day. Arms with ``delta = 1`` get the static closed form
        (the same value: the ratios telescope)."""
        a0 = self._a0  # (A, 1)
        xc = w * c  # (D, A)
        shape = np.broadcast_to(a0 + np.sum(xc, axis=0)[:, None], b0.shape)
        rate = b0 + np.einsum("da,dag->ag", w * f, g)
        loglik = a0 * np.log(b0) - gammaln(a0) + gammaln(shape) - shape * np.log(rate)
        moving = delta < 1.0
        if not moving.any() or c.shape[0] < 2:
            return loglik, shape, rate, None

        def log_norm(shape: FloatArray, rate: FloatArray) -> FloatArray:
            return np.asarray(gammaln(shape) - shape * np.log(rate))

        days = np.asarray(self._data.days, dtype=float)
        order = np.argsort(days, kind="stable")
        t = days[order]
        arms = np.flatnonzero(moving)
        d = delta[arms]
        # delta ** (t_i - t_s) = decay_s / decay_i; log decay floored at -700 (float64's range:
        # reached only by days ~700 / |log delta| old, 18 years at delta = 0.9)
        decay = np.exp(np.maximum(np.log(d)[None, :] * (t[-1] - t)[:, None], -700.0))  # (D, M)
        # the data part of each day's posterior: discounted sums through that day
        cum_c = np.cumsum(xc[np.ix_(order, arms)] * decay, axis=0) / decay  # (D, M)
        cum_g = g[np.ix_(order, arms)]  # (D, M, G), a copy
        cum_g *= ((w * f)[np.ix_(order, arms)] * decay)[:, :, None]
        np.cumsum(cum_g, axis=0, out=cum_g)
        cum_g /= decay[:, :, None]
        keep = d[None, :] ** np.diff(t)[:, None]  # (D - 1, M): from one day to the next
        a_m, b_m = a0[arms], b0[arms]  # (M, 1), (M, G)
        after = log_norm(a_m[None] + cum_c[:, :, None], b_m[None] + cum_g).sum(axis=0)
        before = log_norm(
            a_m[None] + (cum_c[:-1] * keep)[:, :, None], b_m[None] + cum_g[:-1] * keep[:, :, None]
        ).sum(axis=0) + log_norm(a_m, b_m)
        loglik = loglik.copy()
        loglik[arms] = after - before
        shape, rate = shape.copy(), rate.copy()
        shape[arms] = a_m + cum_c[-1][:, None]
        rate[arms] = b_m + cum_g[-1]
        day_level = np.broadcast_to(shape / rate, g.shape).copy()
        day_level[np.ix_(order, arms)] = (a_m[None] + cum_c[:, :, None]) / (b_m[None] + cum_g)
        return loglik, shape, rate, day_level

    def _impressions_terms(self, logg: FloatArray) -> _ImpressionTerms | None:
        """Per-day products behind :meth:`_impressions_loglik` for this refresh's days (None: no
        impressions, or ``use_impressions`` off)."""
        log_imp = self._log_impr_now
        has = np.isfinite(log_imp)
        if not self.config.use_impressions or not has.any():
            return None
        li = np.where(has, log_imp, 0.0)
        return _ImpressionTerms(has, li, logg, logg**2, li[:, :, None] * logg)

    def _impressions_loglik(self, omega: FloatArray) -> FloatArray | None:
        """Log marginal likelihood (A, G) of the reported impressions at every grid point, or None.

        ``log impressions_d = log c + log g_{k,n}(s_d) + N(0, sigma^2)`` with ``log c`` flat and
        ``sigma^2`` scaled-inverse-chi-squared (``_IMPR_NU0`` days at ``_IMPR_SIGMA0``): up to a
        constant, ``-(nu0 + m - 1) / 2 * log(nu0 * sigma0^2 + SS)`` with ``m`` the days' weights
        ``omega`` (forgetting) summed and ``SS`` the weighted squared deviations of ``r = log
        impressions - log g`` from their weighted mean, from the weighted sums of ``r`` and ``r^2``;
        scaled by ``zeta / (zeta + m)`` with ``zeta = LearnerConfig.impressions_days``.
        """
        t = self._impr_terms
        if t is None:
            return None
        w = np.where(t.has, omega, 0.0)  # (D, A)
        m = w.sum(axis=0)  # (A,)
        sum_r = (w * t.li).sum(axis=0)[:, None] - np.einsum("da,dag->ag", w, t.logg)
        sum_r2 = (
            (w * t.li**2).sum(axis=0)[:, None]
            - 2.0 * np.einsum("da,dag->ag", w, t.li_logg)
            + np.einsum("da,dag->ag", w, t.logg2)
        )
        ss = np.maximum(sum_r2 - sum_r**2 / np.maximum(m, 1e-12)[:, None], 0.0)
        ll = -0.5 * (_IMPR_NU0 + m - 1.0)[:, None] * np.log(_IMPR_NU0 * _IMPR_SIGMA0**2 + ss)
        ll = ll * self._impressions_coarsening(m)[:, None]
        # one day says nothing about the shape (its level is absorbed by c); constant per arm
        return np.where((m > 1.0)[:, None], ll - ll.max(axis=1, keepdims=True), 0.0)

    def _impressions_coarsening(self, m: FloatArray) -> FloatArray:
        """Per arm, the scale ``zeta / (zeta + m)`` of the impressions' log likelihood after ``m``
        (weighted) days, ``zeta = LearnerConfig.impressions_days`` (1 without coarsening)."""
        zeta = self.config.impressions_days
        return np.ones_like(m) if zeta is None else zeta / (zeta + m)

    @staticmethod
    def _post_mean_at(post: _Posterior, g: FloatArray) -> FloatArray:
        """Posterior mean of ``beta * g_k(s)`` for precomputed ``g`` of shape (D, A, G)."""
        return np.einsum("ag,dag->da", post.weights * post.shape / post.rate, g)

    @staticmethod
    def _fitted(post: _Posterior, g: FloatArray) -> FloatArray:
        """Posterior mean of ``beta * g_k(s_d)`` on the data days (``g`` of all of them, D x A x
        G), with each day's own level where levels are discounted (days added since ``post``
        was fitted: the newest level)."""
        lvl = post.day_level
        if lvl is None:
            return OnlineCurveLearner._post_mean_at(post, g)
        if lvl.shape[0] < g.shape[0]:
            newest = np.broadcast_to(
                post.shape / post.rate, (g.shape[0] - lvl.shape[0], *lvl.shape[1:])
            )
            lvl = np.concatenate([lvl, newest])
        return np.einsum("ag,dag->da", post.weights, lvl * g)

    # --- change detection -------------------------------------------------------------------------
    def _detect(
        self,
        g: FloatArray,
        logg: FloatArray,
        c: FloatArray,
        f: FloatArray,
        omega: FloatArray,
        days: NDArray[np.int64],
        valid: NDArray[np.bool_],
        mu: FloatArray,
    ) -> bool:
        """Posterior predictive check of the last windows, fitted on the days before them."""
        cfg = self.config
        newest = int(days.max())
        inv_kappa = self.overdispersion_
        rate_mean = self._pooled_rate(c, f, omega)
        q = 1.0 / (1.0 + mu * inv_kappa)
        fired = np.zeros(self.n_arms, dtype=bool)
        for length in sorted(cfg.detect_windows):
            start = newest - length + 1
            pre = (days < start)[:, None] & valid
            win = (days >= start)[:, None] & valid
            eff_pre = np.sum(np.where(pre, omega, 0.0), axis=0)
            testable = (eff_pre >= cfg.min_history) & (win.sum(axis=0) >= min(length, 2)) & ~fired
            if not testable.any():
                continue
            post = self._posterior(
                g,
                logg,
                c,
                f,
                np.where(pre, omega * q, 0.0),
                rate_mean,
                self._impressions_loglik(np.where(pre, omega, 0.0)),
                discount=np.ones(self.n_arms),
            )
            wts = post.weights
            gw = np.einsum("da,dag->ag", np.where(win, f, 0.0), g)  # (A, G): sum_d f g_k(s_d)
            m_k = post.shape / post.rate * gw
            mean = np.sum(wts * m_k, axis=1)
            var_beta = np.sum(wts * (post.shape / post.rate**2 * gw**2 + m_k**2), axis=1) - mean**2
            day_mu = self._post_mean_at(post, g) * f
            # the window is judged against the noise of the days before it: an estimate from
            # residuals that include a change takes the change for noise and hides it
            inv_kappa_pre = _moment_overdispersion(
                c, day_mu, pre & (omega > 0.5), cfg.dispersion_dof
            )
            var_day = day_mu * (1.0 + day_mu * inv_kappa_pre)
            noise = np.sum(np.where(win, var_day, 0.0), axis=0)
            obs = np.sum(np.where(win, c, 0.0), axis=0)
            z = (obs - mean) / np.sqrt(np.maximum(noise + var_beta, 1e-9))
            hit = testable & (np.abs(z) > cfg.detect_threshold)
            for j in np.flatnonzero(hit):
                cut = _change_point(days, win[:, j], c[:, j] - day_mu[:, j], var_day[:, j])
                self._forget_before(int(j), cut)
                self.change_events_.append(
                    ChangeEvent(self.arms[j], detected_day=newest, start_day=cut, z=float(z[j]))
                )
            fired |= hit
        return bool(fired.any())

    def _forget_before(self, arm: int, start: int) -> None:
        for day in self._data.days:
            if day < start:
                w = self._forget.setdefault(day, np.ones(self.n_arms))
                w[arm] *= self.config.forget_factor

    # --- output -----------------------------------------------------------------------------------
    def curves(
        self, n_draws: int, rng: np.random.Generator, *, around: ArrayLike | None = None
    ) -> ResponseCurves:
        """Posterior draws of every arm's curve, in the allocator's family.

        Parameters
        ----------
        n_draws
            Number of joint draws (arms are independent given the data).
        rng
            Random generator.
        around
            Optional spend per arm (e.g. the current plan): each draw's curve is then replaced by
            the curve of the allocator's family with the same level and marginal return at that
            spend (a tangent match, exact near the plan) instead of a least-squares fit over the
            whole range ``0.05 x reference .. max_spend``.
        """
        if n_draws < 1:
            raise ValueError("n_draws must be >= 1")
        post = self._post
        cw = np.cumsum(post.weights, axis=1)
        cw /= cw[:, -1:]
        centre = (
            np.full(self.n_arms, np.nan)
            if around is None
            else np.broadcast_to(np.asarray(around, dtype=float), (self.n_arms,))
        )
        # Latin-hypercube draws: each is an exact posterior draw, but the set covers the grid
        # weights and the Gamma quantiles evenly, so a few dozen draws give a steady mean
        idx = np.empty((self.n_arms, n_draws), dtype=np.intp)
        u2 = np.empty((self.n_arms, n_draws))
        for j in range(self.n_arms):
            u1 = (rng.permutation(n_draws) + rng.random(n_draws)) / n_draws
            u2[j] = (rng.permutation(n_draws) + rng.random(n_draws)) / n_draws
            idx[j] = np.minimum(np.searchsorted(cw[j], u1, side="right"), cw.shape[1] - 1)
        rows = np.arange(self.n_arms)[:, None]
        b_internal = gammaincinv(post.shape[rows, idx], u2) / post.rate[rows, idx]  # (A, D)
        ref = self.reference_spend[:, None]
        k_glob = ref * self._mm_k_ratio[rows, idx]
        beta = b_internal * self._mm_beta[rows, idx]
        k = k_glob.copy()
        local = np.flatnonzero(np.isfinite(centre))
        if local.size:
            # tangent match at today's spend: same level and marginal return as the curve's
            # concave envelope there (exact for the n = 1 grid points); k stays within a factor
            # _K_BAND of the whole-range fit, so a locally straight (or sharply bent) stretch is
            # not extrapolated over the whole budget; then the marginal is matched
            il = idx[local]
            c = np.maximum(centre[local], 0.02 * self.reference_spend[local])[:, None]
            c = np.broadcast_to(c, il.shape)
            h, dh = _envelope(c, self._k[local[:, None], il], self._n[il])
            el = np.clip(c * dh / h, 1e-6, 1.0)
            tangent = np.where(el < 1.0 - 1e-9, c * el / np.maximum(1.0 - el, 1e-12), np.inf)
            kg = k_glob[local]
            kappa = np.clip(tangent, kg / _K_BAND, kg * _K_BAND)
            exact = tangent == kappa
            beta[local] = b_internal[local] * np.where(
                exact, h / c * (1.0 + c / kappa), dh * (1.0 + c / kappa) ** 2
            )
            k[local] = kappa
        beta, k = beta.T, k.T
        return ResponseCurves(
            arms=self.arms,
            beta=np.maximum(beta, 0.0),
            k=k,
            platform=self.platform,
            max_observed_spend=self.max_observed_spend(),
            meta={
                "source": "amplify.learn.OnlineCurveLearner",
                "n_days": self.n_days,
                "days_since_change": self.days_since_change(),
            },
        )

    def predict_draws(self, spend: ArrayLike, n_draws: int, rng: np.random.Generator) -> FloatArray:
        """Posterior draws of the expected daily conversions at ``spend`` (per arm), from the
        learner's own curves (no approximation): shape ``(n_draws, n_arms)``."""
        s = np.broadcast_to(np.asarray(spend, dtype=float), (self.n_arms,))
        g = self._g(s[None, :])[0]  # (A, G)
        post = self._post
        out = np.empty((n_draws, self.n_arms))
        for j in range(self.n_arms):
            idx = rng.choice(g.shape[1], size=n_draws, p=post.weights[j] / post.weights[j].sum())
            out[:, j] = rng.gamma(post.shape[j, idx], 1.0 / post.rate[j, idx]) * g[j, idx]
        return out

    def design(self) -> dict[str, FloatArray]:
        """What the current posterior is built from, for checks against a full refit.

        Returns the per-day ``spend``, ``conversions`` (reported so far), ``reported_share`` and
        quasi-likelihood ``weight`` (shape ``(n_days, n_arms)``), the prior's ``rate_mean`` and
        Gamma ``shape`` per arm, and the grid (``k``, ``n``, ``log_prior``, shape ``(n_arms,
        n_grid)``; with ``k_pooling_sd`` the prior of an arm with platform peers holds what their
        data say about ``k``). The posterior is: ``(k, n)`` on the grid with weights
        ``exp(log_prior)``;
        ``beta | k, n ~ Gamma(shape, shape / (rate_mean * reference / g(reference)))``; each day
        adds ``weight * log Poisson(conversions | beta * g(spend) * reported_share)``. The days'
        ``log_impressions`` (``NaN``: none, or ``use_impressions`` off), weighted by
        ``impressions_weight``, add the impressions' marginal likelihood of ``(k, n)``
        (:meth:`_impressions_loglik`: the module docstring's paid funnel), with the noise prior
        ``impressions_noise_prior`` = (pseudo-days, sd), scaled per arm by
        ``impressions_coarsening`` (``LearnerConfig.impressions_days``). Days count towards an
        arm's level with ``level_discount ** age`` (:meth:`_level_loglik`; 1: a static level, the
        model above).
        """
        if not self._design:
            raise ValueError("no data yet: observe() and refresh() first")
        out = {k: np.asarray(v).copy() for k, v in self._design.items()}
        out["spend"] = self._spend_now.copy()
        out["shape"] = self._a0[:, 0].copy()
        out["k"] = self._k.copy()
        out["n"] = np.broadcast_to(self._n, self._k.shape).copy()
        out["reference_spend"] = self.reference_spend.copy()
        out["impressions_noise_prior"] = np.array([_IMPR_NU0, _IMPR_SIGMA0])
        m = np.where(np.isfinite(out["log_impressions"]), out["impressions_weight"], 0.0).sum(
            axis=0
        )
        out["impressions_coarsening"] = self._impressions_coarsening(m)
        out["level_discount"] = self.level_discount_.copy()
        return out

    def max_observed_spend(self) -> FloatArray:
        """Largest daily spend seen per arm (0 where none)."""
        if not self._data.spend:
            return np.zeros(self.n_arms)
        s = np.array(self._data.spend)
        return np.asarray(np.nanmax(np.where(np.isfinite(s), s, 0.0), axis=0))

    def expected(self, spend: ArrayLike) -> FloatArray:
        """Posterior mean of the expected daily conversions at ``spend`` (per arm)."""
        s = np.broadcast_to(np.asarray(spend, dtype=float), (self.n_arms,))
        return np.asarray(self._post_mean_at(self._post, self._g(s[None, :]))[0])

    def summary(self) -> dict[str, object]:
        """Posterior summary per arm: mean ``k``, rate at the reference spend, weights' entropy."""
        post = self._post
        w = post.weights
        return {
            "arms": list(self.arms),
            "k_mean": np.sum(w * self._k, axis=1).tolist(),
            "shape_mean": np.sum(w * self._n[None, :], axis=1).tolist(),
            "conversions_at_reference": self.expected(self.reference_spend).tolist(),
            "overdispersion": float(self.overdispersion_),
            "level_discount": self.level_discount_.tolist(),
            "delay_pmf": self.delay_pmf_.tolist(),
            "change_events": [e.__dict__ for e in self.change_events_],
        }


def _log_matmul(log_a: FloatArray, b: FloatArray) -> FloatArray:
    """``log(exp(log_a) @ b)`` for non-negative ``b``, stable row by row (a matrix product, not an
    (rows x inner x columns) logsumexp), floored at ``log(1e-300)`` below each row's top term so
    that differences of such logs stay finite."""
    top = np.max(log_a, axis=1, keepdims=True)
    return np.asarray(np.log(np.maximum(np.exp(log_a - top) @ b, 1e-300)) + top)


def _logsumexp(x: FloatArray) -> FloatArray:
    m = np.max(x, axis=1)
    return np.asarray(m + np.log(np.sum(np.exp(x - m[:, None]), axis=1)))


def _change_point(
    days: NDArray[np.int64], win: NDArray[np.bool_], resid: FloatArray, var: FloatArray
) -> int:
    """First day of the shift inside a window that failed the predictive check.

    The window's days carry residuals against the fit on the days before it; a shift that began on
    day ``t`` makes the residuals of days ``>= t`` share one sign. ``t`` maximises the standardised
    sum ``|sum_{d >= t} resid_d| / sqrt(sum_{d >= t} var_d)`` (the likelihood-ratio scan of a
    single mean shift), so the unchanged days at the start of a long window are not forgotten with
    the old data, nor kept as if they were new.
    """
    idx = np.flatnonzero(win)
    idx = idx[np.argsort(days[idx])]
    tail_sum = np.cumsum(resid[idx][::-1])[::-1]
    tail_var = np.cumsum(var[idx][::-1])[::-1]
    score = np.abs(tail_sum) / np.sqrt(np.maximum(tail_var, 1e-12))
    return int(days[idx][int(np.argmax(score))])


def _moment_overdispersion(
    c: FloatArray, mu: FloatArray, mask: NDArray[np.bool_], n_params: float = 0.0
) -> float:
    """Moment estimate of ``1 / kappa`` in ``Var = mu + mu**2 / kappa`` (shrunk to 0.05).

    ``mu`` is fitted to the same counts, so residuals are smaller than the noise: with ``n_params``
    fitted parameters per arm and ``n`` days, ``E[(c - mu)**2] ~= (1 - n_params / n) Var`` (the
    mean leverage); each arm's residuals are corrected by that factor, and an arm with no more days
    than parameters tells nothing about the noise."""
    n_a = mask.sum(axis=0)
    keep = 1.0 - np.minimum(n_params / np.maximum(n_a, 1), 1.0)  # (A,)
    mask = mask & (keep > 0)
    n = int(mask.sum())
    if n == 0:
        return 0.05
    keep = np.broadcast_to(keep, c.shape)
    num = float(np.sum(np.where(mask, (c - mu) ** 2 - keep * mu, 0.0)))
    den = float(np.sum(np.where(mask, keep * mu**2, 0.0)))
    mbar2 = den / n
    prior_n = 10.0
    est = (num + prior_n * mbar2 * 0.05) / (den + prior_n * mbar2 + 1e-12)
    return float(np.clip(est, 0.005, 2.0))


#: Largest ``k`` handed to the allocator, in reference spends (an almost linear curve).
_K_MAX = 1000.0
#: A tangent match keeps ``k`` within this factor of the whole-range fit.
_K_BAND = 4.0


@functools.lru_cache(maxsize=64)
def _mm_table_cached(
    mult: tuple[float, ...], shapes: tuple[float, ...], r_max: float
) -> tuple[FloatArray, FloatArray]:
    kk = np.tile(np.asarray(mult), len(shapes))  # (G,) k in units of the reference spend
    nn = np.repeat(np.asarray(shapes), len(mult))
    lo = min(0.05, r_max / 20.0)
    kappas = np.geomspace(0.01, _K_MAX, 200)
    u = np.geomspace(lo, r_max, 40)
    e, de = _envelope(u[None, :], kk[:, None], nn[:, None])  # (G, U)
    uu = u[None, :] / (1.0 + u[None, :] / kappas[:, None])  # (K, U)
    du = 1.0 / (1.0 + u[None, :] / kappas[:, None]) ** 2
    r1 = uu[:, None, :] / e[None, :, :]  # (K, G, U)
    r2 = du[:, None, :] / de[None, :, :]
    b = (r1.sum(-1) + r2.sum(-1)) / ((r1**2).sum(-1) + (r2**2).sum(-1))  # LS multiplier per kappa
    loss = ((b[..., None] * r1 - 1.0) ** 2).sum(-1) + ((b[..., None] * r2 - 1.0) ** 2).sum(-1)
    best = np.argmin(loss, axis=0)
    b_tab = b[best, np.arange(kk.size)]
    k_tab = kappas[best]
    exact = nn == 1.0  # the allocator's own family: no approximation
    b_tab[exact] = 1.0
    k_tab[exact] = kk[exact]
    return b_tab, k_tab


def _mm_table(mult: FloatArray, shapes: FloatArray, r_max: float) -> tuple[FloatArray, FloatArray]:
    """Whole-range approximations of every grid curve in the allocator's family.

    Least squares on relative levels and marginal returns of the curve's concave envelope over
    ``0.05 .. r_max`` reference spends; returns per grid point the multiplier of ``beta`` and
    ``k / reference``.
    """
    key = float(f"{r_max:.3g}")
    return _mm_table_cached(tuple(np.round(mult, 12)), tuple(shapes.tolist()), key)


def _envelope(u: FloatArray, k: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Concave envelope (from 0) of ``k x^n / (1 + x^n)``, ``x = u / k``, and its derivative."""
    x = u / k
    xn = x**n
    h = k * xn / (1.0 + xn)
    dh = n * xn / np.maximum(x, 1e-300) / (1.0 + xn) ** 2
    # S-shaped (n > 1): a straight line from 0 to the tangent point x_t = (n - 1) ** (1 / n)
    n_safe = np.maximum(n, 1.0 + 1e-9)
    x_t = (n_safe - 1.0) ** (1.0 / n_safe)
    slope = (n_safe - 1.0) / n_safe / x_t  # h(x_t) / (k x_t) with x_t**n = n - 1
    line = (n > 1.0) & (x < x_t)
    h = np.where(line, u * slope, h)
    dh = np.where(line, slope, dh)
    return h, np.maximum(dh, 1e-12)
