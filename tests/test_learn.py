"""The fast online learner: recovery, delay correction, change-aware forgetting, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from amplify.curves import ResponseCurves, mm_conversions
from amplify.learn import (
    DEFAULT_DELAY_PMF,
    LearnerConfig,
    OnlineCurveLearner,
    _moment_overdispersion,
)
from amplify.simulate import CampaignWorld

ARMS = ("facebook", "instagram", "tiktok")
BETA = np.array([0.030, 0.045, 0.060])
K = np.array([2500.0, 900.0, 400.0])


def _mm_days(
    rng: np.random.Generator,
    days: int,
    *,
    alpha: float | None = 20.0,
    sd: float = 0.5,
    centre: float = 1000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily spends around ``centre`` and (complete) conversions from known MM curves."""
    spend = centre * np.exp(sd * rng.normal(size=(days, 3)))
    mean = mm_conversions(spend, BETA, K)
    if alpha is not None:
        mean = mean * rng.gamma(alpha, 1.0 / alpha, size=mean.shape)
    return spend, rng.poisson(mean).astype(float)


@pytest.mark.parametrize(
    "config", [LearnerConfig.static(), LearnerConfig()], ids=["static", "default"]
)
def test_recovers_a_known_curve(config: LearnerConfig) -> None:
    """A static curve in the model's family: the static learner's mean is within 15% of it; the
    default learner's (which here ends with a discounted instagram level, following fewer
    days) within 25%; the truth is inside both 95% bands."""
    rng = np.random.default_rng(1)
    spend, conv = _mm_days(rng, 80)
    learner = OnlineCurveLearner(ARMS, reference_spend=1000.0, config=config)
    for d in range(80):
        learner.observe(d, spend[d], conv[d], age=30)
        learner.refresh()
    for s in (600.0, 1000.0, 1800.0):
        truth = mm_conversions(s, BETA, K)
        est = learner.expected(np.full(3, s))
        np.testing.assert_allclose(est, truth, rtol=0.25 if config.tracks_drift else 0.15)
        # the truth sits inside the 95% band of the draws handed to the allocator
        curves = learner.curves(2000, np.random.default_rng(0), around=np.full(3, s))
        band = np.percentile(curves.conversions(np.full(3, s)), [2.5, 97.5], axis=0)
        assert np.all((band[0] < truth) & (truth < band[1])), (s, band, truth)
    # over-dispersion of NegBin(alpha=20) is ~0.05
    assert 0.01 < learner.overdispersion_ < 0.15


def test_recognises_an_s_shaped_arm() -> None:
    """A Hill curve with slope 2 is S-shaped: the learner must put its weight on shapes above 1."""
    rng = np.random.default_rng(2)
    spend = 1000.0 * np.exp(0.6 * rng.normal(size=(60, 3)))
    k = np.array([1500.0, 1500.0, 1500.0])
    n = np.array([2.0, 1.0, 0.5])
    x = (spend / k) ** n
    conv = rng.poisson(0.05 * k * x / (1.0 + x)).astype(float)
    learner = OnlineCurveLearner(ARMS, reference_spend=1000.0)
    for d in range(60):
        learner.observe(d, spend[d], conv[d], age=30)
    learner.refresh()
    shape = np.array(learner.summary()["shape_mean"])
    assert shape[0] > 1.5, shape
    assert 0.7 < shape[1] < 1.3, shape
    assert shape[2] < 0.8, shape
    # the allocator's curve for the S-shaped arm has a marginal return close to the truth near the
    # plan
    curves = learner.curves(4000, np.random.default_rng(0), around=np.full(3, 1500.0))
    est = (curves.conversions(np.full(3, 1550.0)) - curves.conversions(np.full(3, 1450.0))).mean(0)
    xs = (np.array([1450.0, 1550.0]) / 1500.0) ** 2
    true_marg = np.diff(0.05 * 1500.0 * xs / (1 + xs))[0]
    assert est[0] == pytest.approx(true_marg, rel=0.25)


def _delayed_run(config: LearnerConfig, seed: int = 3, days: int = 12) -> float:
    """Conversions reported over 7 days; the learner sees each day at its age (as in the loop)."""
    rng = np.random.default_rng(seed)
    # Poisson counts at a high spend: ~100 conversions a day per arm, so a 10% bias stands out
    spend, conv = _mm_days(rng, days, alpha=None, sd=0.15, centre=4000.0)
    pmf = np.asarray(DEFAULT_DELAY_PMF)
    split = np.stack([rng.multinomial(int(c), pmf) for c in conv.ravel()]).reshape(days, 3, -1)
    learner = OnlineCurveLearner(ARMS, reference_spend=4000.0, config=config)
    for today in range(days):
        for d in range(max(0, today - 6), today + 1):
            age = today - d
            learner.observe(d, spend[d], split[d, :, : age + 1].sum(axis=1), age=age)
        learner.refresh()
    ratio = learner.expected(np.full(3, 4000.0)) / mm_conversions(4000.0, BETA, K)
    return float(np.mean(ratio))


def test_delayed_conversions_do_not_bias_the_estimate() -> None:
    corrected = _delayed_run(LearnerConfig())
    naive = _delayed_run(LearnerConfig(delay_pmf=(1.0,), estimate_delay=False))
    assert abs(corrected - 1.0) < 0.05, corrected
    # treating unreported conversions as a bad day under-estimates by the unreported share (~10%)
    assert naive < 0.93, naive
    assert naive < corrected - 0.05, (naive, corrected)


def _world_run(variant: str, seed: int) -> OnlineCurveLearner:
    world = CampaignWorld(seed, variant=variant)
    rng = np.random.default_rng(seed)
    learner = OnlineCurveLearner(world.arms, reference_spend=1000.0)
    outs = {}
    for day in range(90):
        plan = world.oracle(3000.0, 0) * 0.6 + 400.0
        plan = plan * np.exp(0.2 * rng.normal(size=3))
        outs[day] = world.step(plan, day)
        for d in range(max(0, day - 6), day + 1):
            o = outs[d]
            learner.observe(d, o.spend, o.report_delay[:, : day - d + 1].sum(axis=1), age=day - d)
        learner.refresh()
    return learner


@pytest.mark.parametrize("seed", [5, 6])
def test_forgetting_fires_on_a_severe_change_only(seed: int) -> None:
    severe = _world_run("severe_change", seed)
    assert severe.change_events_, "the severe change was not detected"
    assert all(e.detected_day >= 45 for e in severe.change_events_)
    assert min(e.detected_day for e in severe.change_events_) <= 52
    newest = max(e.detected_day for e in severe.change_events_)
    meta = severe.curves(4, np.random.default_rng(0)).meta
    assert meta["days_since_change"] == 89 - newest  # what the default policy reads
    stationary = _world_run("stationary", seed)
    assert stationary.change_events_ == []
    assert stationary.curves(4, np.random.default_rng(0)).meta["days_since_change"] is None


@pytest.mark.parametrize("seed", [1029, 1037])
def test_a_change_is_judged_against_the_noise_before_it(seed: int) -> None:
    """The two platforms whose curves swap at day 45 are both detected within 11 days, while the
    plan stays where it was (as a greedy plan does when the learner has not seen the change).

    The days after a change, fitted by curves that do not know about it, look like noise: in world
    1029 played by greedy, the over-dispersion estimated from all days rose from 0.10 at day 47 to
    0.35 at day 69. A window is therefore judged against the noise of the days before it. Judged
    against the estimate from all days (before this test), the second platform here was detected
    at day 69 (world 1029) and day 58 (world 1037)."""
    world = CampaignWorld(seed, variant="severe_change", horizon=90)
    learner = OnlineCurveLearner(world.arms, reference_spend=1000.0)
    plan = world.oracle(3000.0, 0)
    outs = {}
    for day in range(70):
        outs[day] = world.step(plan, day)
        for d in range(max(0, day - 6), day + 1):
            o = outs[d]
            learner.observe(d, o.spend, o.report_delay[:, : day - d + 1].sum(axis=1), age=day - d)
        learner.refresh()
    assert world.change_day == 45
    first = {}
    for e in learner.change_events_:
        assert e.detected_day >= 45, e
        first.setdefault(e.arm, e.detected_day)
    swapped = {world.arms[world.best_arm], world.arms[world.worst_arm]}
    assert set(first) == swapped, learner.change_events_
    assert max(first.values()) <= 45 + 11, first


@pytest.mark.parametrize("seed", [0, 5])
def test_a_late_detection_dates_the_change_inside_its_window(seed: int) -> None:
    # facebook's conversions drop to 40% from day 40; a 28-day window fires only once the
    # shift dominates it, by which time the window also holds many days from before day 40
    rng = np.random.default_rng(seed)
    days, change = 70, 40
    spend = 1000.0 * np.exp(0.5 * rng.normal(size=(days, 3)))
    beta = np.tile(BETA, (days, 1))
    beta[change:, 0] *= 0.4
    mean = mm_conversions(spend, beta, K) * rng.gamma(20.0, 1.0 / 20.0, size=(days, 3))
    conv = rng.poisson(mean).astype(float)
    config = LearnerConfig(delay_pmf=(1.0,), estimate_delay=False, detect_windows=(28,))
    learner = OnlineCurveLearner(ARMS, reference_spend=1000.0, config=config)
    for d in range(days):
        learner.observe(d, spend[d], conv[d], age=30)
        learner.refresh()
    [event] = learner.change_events_
    assert event.arm == "facebook"
    assert event.z < 0
    assert event.detected_day - 27 < change - 3  # the window reaches well before the change
    assert abs(event.start_day - change) <= 3, event


def test_dispersion_estimate_corrects_for_the_fitted_mean() -> None:
    """Residuals around a fitted mean understate the noise; the estimate corrects for it.

    Negative-binomial counts (``1 / kappa = 0.3``) on 200 arms x 4 days, each arm's mean fitted as
    the mean of its own 4 days (one parameter per arm, leverage 1/4). Uncorrected, the estimate is
    about a third too low (0.19); corrected, 0.27: what is left is the noise of the fitted means in
    ``mu**2``, which fades as days accrue. An arm with no more days than parameters tells nothing,
    so one day of data gives the prior value 0.05."""
    rng = np.random.default_rng(5)
    mu_true = rng.uniform(10.0, 40.0, size=200)
    plain, corrected = [], []
    for _ in range(40):
        c = rng.poisson(mu_true * rng.gamma(1 / 0.3, 0.3, size=(4, 200))).astype(float)
        mu = np.broadcast_to(c.mean(axis=0), c.shape)
        mask = np.ones(c.shape, dtype=bool)
        plain.append(_moment_overdispersion(c, mu, mask, 0.0))
        corrected.append(_moment_overdispersion(c, mu, mask, 1.0))
    assert np.mean(plain) < 0.22
    assert 0.25 < np.mean(corrected) < 0.31
    one_day = rng.poisson(mu_true[None, :]).astype(float)
    assert _moment_overdispersion(one_day, one_day, np.ones((1, 200), bool), 1.0) == 0.05


def test_same_data_same_state_and_seeded_draws() -> None:
    rng = np.random.default_rng(4)
    spend, conv = _mm_days(rng, 20)
    a = OnlineCurveLearner(ARMS, reference_spend=1000.0)
    b = OnlineCurveLearner(ARMS, reference_spend=1000.0)
    for d in range(20):
        for x in (a, b):
            x.observe(d, spend[d], conv[d], age=3)
            x.refresh()
    ca = a.curves(50, np.random.default_rng(9), around=spend[-1])
    cb = b.curves(50, np.random.default_rng(9), around=spend[-1])
    np.testing.assert_array_equal(ca.beta, cb.beta)
    np.testing.assert_array_equal(ca.k, cb.k)
    assert not np.array_equal(ca.beta, a.curves(50, np.random.default_rng(10)).beta)
    np.testing.assert_allclose(ca.max_observed_spend, spend.max(axis=0))
    # reset forgets everything
    a.reset()
    assert a.n_days == 0
    assert a.change_events_ == []


def test_informative_prior_and_bad_input() -> None:
    prior = ResponseCurves(
        arms=ARMS,
        beta=np.tile(BETA, (400, 1)) * np.random.default_rng(0).lognormal(0, 0.1, (400, 3)),
        k=np.tile(K, (400, 1)),
        platform=ARMS,
    )
    learner = OnlineCurveLearner(ARMS, reference_spend=1000.0, prior=prior)
    learner.refresh()  # no data: the prior alone
    np.testing.assert_allclose(
        learner.expected(np.full(3, 1000.0)), mm_conversions(1000.0, BETA, K), rtol=0.1
    )
    with pytest.raises(ValueError, match="non-negative"):
        learner.observe(0, [-1.0, 1.0, 1.0], [1, 1, 1], age=0)
    with pytest.raises(ValueError, match="reference_spend"):
        OnlineCurveLearner(ARMS, reference_spend=0.0)
    with pytest.raises(ValueError, match="delay_pmf"):
        LearnerConfig(delay_pmf=())


def test_posts_shrink_towards_their_platform() -> None:
    """A post with no data yet borrows from the other posts on its platform, not from the account.

    Facebook posts convert at twice the rate of TikTok posts; the two unboosted posts get prior
    rates in that order with platform pooling, and the same prior without it.
    """
    arms = ("facebook:a", "facebook:b", "facebook:new", "tiktok:a", "tiktok:b", "tiktok:new")
    rate = np.array([0.04, 0.04, np.nan, 0.02, 0.02, np.nan])
    rng = np.random.default_rng(11)
    pooled = OnlineCurveLearner(
        arms, reference_spend=200.0, config=LearnerConfig(platform_pooling=3.0)
    )
    flat = OnlineCurveLearner(
        arms, reference_spend=200.0, config=LearnerConfig(platform_pooling=None)
    )
    for d in range(20):
        spend = np.where(np.isnan(rate), np.nan, 200.0)
        conv = np.where(np.isnan(rate), np.nan, rng.poisson(np.nan_to_num(rate) * 200.0))
        for learner in (pooled, flat):
            learner.observe(d, spend, conv, age=30)
    pooled.refresh()
    flat.refresh()
    new = [2, 5]
    fb, tt = pooled.expected(np.full(6, 200.0))[new]
    assert 1.5 < fb / tt < 2.5, (fb, tt)
    np.testing.assert_allclose(*flat.expected(np.full(6, 200.0))[new], rtol=1e-12)
    # one arm per platform: the platform is the arm itself, so pooling changes nothing
    one = [
        OnlineCurveLearner(ARMS, reference_spend=1000.0, config=LearnerConfig(platform_pooling=p))
        for p in (3.0, None)
    ]
    spend, conv = _mm_days(np.random.default_rng(3), 15)
    for learner in one:
        for d in range(15):
            learner.observe(d, spend[d], conv[d], age=30)
        learner.refresh()
    np.testing.assert_allclose(
        one[0].expected(np.full(3, 900.0)), one[1].expected(np.full(3, 900.0))
    )


def test_posts_share_what_their_platform_says_about_saturation() -> None:
    """With ``k_pooling_sd`` a post with no data yet saturates where its platform's posts do.

    Facebook posts saturate at a fifth of the reference spend, TikTok posts at five times it. The
    unboosted posts' ``k`` posteriors (their prior: no data of their own) follow their platform
    with pooling and stay at the default prior without it; the lone Instagram arm has no peers, so
    pooling leaves its posterior exactly as it was.
    """
    ref = 200.0
    arms = (
        "facebook:a",
        "facebook:b",
        "facebook:new",
        "instagram",
        "tiktok:a",
        "tiktok:b",
        "tiktok:new",
    )
    k = ref * np.array([0.2, 0.2, np.nan, 1.0, 5.0, 5.0, np.nan])
    boosted = np.isfinite(k)
    rng = np.random.default_rng(5)
    days = [ref * np.exp(0.6 * rng.normal(size=k.size)) for _ in range(30)]
    conv = [rng.poisson(mm_conversions(s, 0.05, np.nan_to_num(k, nan=1.0))) for s in days]
    learners = {
        tau: OnlineCurveLearner(arms, reference_spend=ref, config=LearnerConfig(k_pooling_sd=tau))
        for tau in (0.5, None)
    }
    for learner in learners.values():
        for d, (s, c) in enumerate(zip(days, conv, strict=True)):
            learner.observe(d, np.where(boosted, s, np.nan), np.where(boosted, c, np.nan), age=30)
        learner.refresh()

    def log_k(learner: OnlineCurveLearner) -> np.ndarray:
        return np.log(np.asarray(learner.summary()["k_mean"]) / ref)

    pooled, flat = log_k(learners[0.5]), log_k(learners[None])
    fb_new, tt_new = arms.index("facebook:new"), arms.index("tiktok:new")
    # log of the posterior mean k, 25 times apart in truth: more than 7 times apart with pooling
    assert pooled[fb_new] < 0.0 < pooled[tt_new], pooled
    assert pooled[tt_new] - pooled[fb_new] > 2.0, pooled
    assert flat[fb_new] == pytest.approx(flat[tt_new], abs=1e-12)
    # the prior the posterior started from says the same
    prior = learners[0.5].design()["log_prior"]
    assert not np.allclose(prior[fb_new], prior[tt_new])
    ig = arms.index("instagram")
    np.testing.assert_allclose(prior[ig], learners[None].design()["log_prior"][ig])
    for spend in (0.5 * ref, 2.0 * ref):
        np.testing.assert_allclose(
            learners[0.5].expected(np.full(len(arms), spend))[ig],
            learners[None].expected(np.full(len(arms), spend))[ig],
            rtol=1e-12,
        )
    with pytest.raises(ValueError, match="k_pooling_sd"):
        LearnerConfig(k_pooling_sd=0.0)


def _hill_days(
    seed: int, days: int, *, spread: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spends near 1000 (log sd ``spread``), conversions and paid impressions of three Hill arms.

    The arms share ``k = 1500`` and bend as ``n = 2, 1, 0.5``; impressions follow the same curve
    with 10% log-normal noise (saturation acts on delivery). Returns spend, conversions,
    impressions and the true marginal conversions per unit of spend at 1000."""
    rng = np.random.default_rng(seed)
    n = np.array([2.0, 1.0, 0.5])

    def g(s: np.ndarray) -> np.ndarray:
        x = (s / 1500.0) ** n
        return 1500.0 * x / (1.0 + x)

    spend = 1000.0 * np.exp(spread * rng.normal(size=(days, 3)))
    conv = rng.poisson(0.02 * g(spend)).astype(float)
    impressions = np.rint(2000.0 * g(spend) * np.exp(0.1 * rng.normal(size=(days, 3))))
    marginal = 0.02 * (g(np.full(3, 1001.0)) - g(np.full(3, 999.0))) / 2.0
    return spend, conv, impressions, marginal


def _marginal(learner: OnlineCurveLearner) -> np.ndarray:
    return (learner.expected(np.full(3, 1001.0)) - learner.expected(np.full(3, 999.0))) / 2.0


def test_impressions_teach_the_curve_shape() -> None:
    """A plan that barely moves leaves the bend of a curve to the prior when only conversions are
    seen; the day's paid impressions (same curve, 10% noise) pin it down, all the more when their
    evidence is not coarsened."""
    spend, conv, impressions, truth = _hill_days(11, 30, spread=0.15)
    configs = {
        "default": LearnerConfig(),
        "exact": LearnerConfig(impressions_days=None),
        "conversions only": LearnerConfig(),
        "switched off": LearnerConfig(use_impressions=False),
    }
    learners = {
        name: OnlineCurveLearner(ARMS, reference_spend=1000.0, config=cfg)
        for name, cfg in configs.items()
    }
    for name, learner in learners.items():
        for d in range(30):
            shown = None if name == "conversions only" else impressions[d]
            learner.observe(d, spend[d], conv[d], age=30, impressions=shown)
        learner.refresh()
    err = {name: np.abs(_marginal(learner) / truth - 1.0) for name, learner in learners.items()}
    assert np.all(err["exact"] < 0.1), err
    assert np.all(err["default"] < 0.3), err
    assert err["default"].mean() < 0.4 * err["conversions only"].mean(), err
    assert err["exact"].mean() < err["default"].mean(), err
    # switched off, or no impressions reported: conversions alone, to the last digit
    np.testing.assert_array_equal(
        learners["switched off"].expected(np.full(3, 1000.0)),
        learners["conversions only"].expected(np.full(3, 1000.0)),
    )
    assert np.all(np.isnan(learners["conversions only"].design()["log_impressions"]))
    with pytest.raises(ValueError, match="impressions"):
        learners["default"].observe(31, spend[0], conv[0], age=0, impressions=[-1.0, 1.0, 1.0])


def test_impressions_likelihood_integrates_out_scale_and_noise() -> None:
    """The closed form per grid point against a numerical integral of the log-normal model over
    the impressions' scale (flat) and noise variance (scaled inverse chi-squared prior)."""
    from scipy import integrate, stats

    from amplify.learn import _IMPR_NU0, _IMPR_SIGMA0

    spend, conv, impressions, _ = _hill_days(12, 6, spread=0.4)
    exact = OnlineCurveLearner(
        ARMS, reference_spend=1000.0, config=LearnerConfig(impressions_days=None)
    )
    coarse = OnlineCurveLearner(ARMS, reference_spend=1000.0)
    for learner in (exact, coarse):
        for d in range(6):
            learner.observe(d, spend[d], conv[d], age=30, impressions=impressions[d])
        learner.refresh()
    logg = exact._g_days(exact.design()["spend"])[1]
    ll = exact._impressions_loglik(np.ones((6, 3)))
    ll_coarse = coarse._impressions_loglik(np.ones((6, 3)))
    assert ll is not None
    assert ll_coarse is not None
    # the default coarsening counts six days of impressions as 6 * zeta / (zeta + 6)
    zeta = LearnerConfig().impressions_days
    assert zeta is not None
    np.testing.assert_allclose(ll_coarse, ll * zeta / (zeta + 6.0), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="impressions_days"):
        LearnerConfig(impressions_days=0.0)
    noise_prior = stats.invgamma(_IMPR_NU0 / 2, scale=_IMPR_NU0 * _IMPR_SIGMA0**2 / 2)
    grid = [10, 45, 60, 130]  # (k, n) points of the grid with different fits to arm 0's days

    def log_evidence(j: int) -> float:
        r = np.log(impressions[:, 0]) - logg[:, 0, j]

        def density(mu: float, log_var: float) -> float:
            var = np.exp(log_var)
            lik = np.prod(stats.norm.pdf(r, mu, np.sqrt(var)))
            return float(lik * noise_prior.pdf(var) * var)  # d var = var d log_var

        value, _ = integrate.dblquad(
            density, -14.0, 3.0, r.mean() - 2.0, r.mean() + 2.0, epsabs=0, epsrel=1e-6
        )
        return float(np.log(value))

    numeric = np.array([log_evidence(j) for j in grid])
    np.testing.assert_allclose(numeric - numeric[0], ll[0, grid] - ll[0, grid[0]], atol=1e-4)
    assert np.ptp(numeric) > 1.0  # the grid points really differ


def test_discounted_level_likelihood_is_the_product_of_predictive_densities() -> None:
    """The level's marginal likelihood per grid point against the one-step-ahead negative binomial
    densities of a Poisson-Gamma discount process, computed day by day with scipy; a gap of
    several days discounts by ``delta ** gap``; the order in which days arrive does not matter;
    ``delta = 1`` is the static model."""
    from scipy import stats
    from scipy.special import gammaln

    rng = np.random.default_rng(5)
    days = np.array([0, 1, 2, 5, 6, 7, 9, 10])
    spend, conv = _mm_days(rng, days.size)
    learner = OnlineCurveLearner(ARMS, reference_spend=1000.0)
    for i in rng.permutation(days.size):  # out of order
        learner.observe(int(days[i]), spend[i], conv[i], age=30)
    learner.refresh()
    g_obs = learner._g_days(learner.design()["spend"])[0]  # (D, A, G) in arrival order
    c_obs = np.array(learner._data.conv)
    by_day = np.argsort(learner._data.days)
    g, c = g_obs[by_day], c_obs[by_day]
    w = np.ones((days.size, 3))
    b0 = learner._b0(np.full(3, 0.03))
    a0 = float(learner._a0[0, 0])
    for delta in (1.0, 0.9):
        ll = learner._level_loglik(g_obs, c_obs, w, w, b0, np.full(3, delta))[0]
        for j in (10, 70, 150):  # grid points
            a, b, total = a0, b0[0, j], 0.0
            for i, day in enumerate(days):
                if i:
                    keep = delta ** (day - days[i - 1])
                    a, b = a0 + keep * (a - a0), b0[0, j] + keep * (b - b0[0, j])
                gi = g[i, 0, j]
                total += stats.nbinom.logpmf(c[i, 0], a, b / (b + gi))
                a, b = a + c[i, 0], b + gi
            # the learner leaves out sum c log g - sum log c! (the same at every delta)
            rest = np.sum(c[:, 0] * np.log(g[:, 0, j]) - gammaln(c[:, 0] + 1.0))
            np.testing.assert_allclose(ll[0, j] + rest, total, rtol=1e-9)
    with pytest.raises(ValueError, match="level_discounts"):
        LearnerConfig(level_discounts=(1.0, 1.2), level_discount_prior=(0.5, 0.5))


def test_a_drifting_level_is_followed_and_a_steady_one_kept() -> None:
    """Arm 0's efficiency grows 1.5% a day for 70 days (2.8x), the others stay put: with the
    default settings (three platforms, each one arm) the level discount alone (no change detector)
    discounts arm 0's old days, not the others', and ends nearer arm 0's new level than a static
    level does."""
    rng = np.random.default_rng(8)
    n_days = 70
    trend = np.exp(0.015 * np.arange(n_days))
    spend = 1000.0 * np.exp(0.3 * rng.normal(size=(n_days, 3)))
    mean = mm_conversions(spend, BETA, K)
    mean[:, 0] *= trend
    conv = rng.poisson(mean * rng.gamma(20.0, 1.0 / 20.0, size=mean.shape)).astype(float)
    # the change detector off: the discount alone
    quiet = LearnerConfig(detect_threshold=np.inf)
    static = LearnerConfig.static(detect_threshold=np.inf)
    learners = {
        "tracking": OnlineCurveLearner(ARMS, reference_spend=1000.0, config=quiet),
        "static": OnlineCurveLearner(ARMS, reference_spend=1000.0, config=static),
    }
    for learner in learners.values():
        for d in range(n_days):
            learner.observe(d, spend[d], conv[d], age=30)
        learner.refresh()
    assert learners["tracking"].level_discount_[0] < 1.0
    np.testing.assert_array_equal(learners["tracking"].level_discount_[1:], 1.0)
    truth = mm_conversions(np.full(3, 1000.0), BETA, K) * np.array([trend[-1], 1.0, 1.0])
    err = {
        name: np.abs(learner.expected(np.full(3, 1000.0)) / truth - 1.0)
        for name, learner in learners.items()
    }
    # over seeds 1-10 the relative errors were 0.05-0.23 (discounted) and 0.30-0.41 (static), at
    # most 0.59 of the static one: a discounted level still lags a steady trend, by about its
    # memory 1 / (1 - delta) days
    assert err["tracking"][0] < 0.7 * err["static"][0], err
    np.testing.assert_allclose(err["tracking"][1:], err["static"][1:], atol=0.02)
    assert learners["tracking"].summary()["level_discount"][0] < 1.0


def test_the_posts_of_a_platform_share_its_level_discount() -> None:
    """One drifting post decides for its platform (its Bayes factor is summed with its peers'):
    with ``LearnerConfig.tracking_drift()`` both Facebook posts discount, though only the first
    drifts, and the Instagram post (drifting down) discounts on its own evidence. By default posts
    keep static levels and the Instagram post, its platform's one arm, is tracked as before."""
    rng = np.random.default_rng(8)
    n_days = 70
    arms = ("facebook:1", "facebook:2", "instagram:1")
    spend = 1000.0 * np.exp(0.3 * rng.normal(size=(n_days, 3)))
    mean = mm_conversions(spend, BETA, K)
    mean[:, 0] *= np.exp(0.015 * np.arange(n_days))
    mean[:, 2] *= np.exp(0.015 * np.arange(n_days))[::-1]
    conv = rng.poisson(mean * rng.gamma(20.0, 1.0 / 20.0, size=mean.shape)).astype(float)
    delta = {}
    for name, config in {
        "all": LearnerConfig.tracking_drift(detect_threshold=np.inf),
        "default": LearnerConfig(detect_threshold=np.inf),
    }.items():
        learner = OnlineCurveLearner(arms, reference_spend=1000.0, config=config)
        for d in range(n_days):
            learner.observe(d, spend[d], conv[d], age=30)
        learner.refresh()
        delta[name] = learner.level_discount_
    assert delta["all"][0] == delta["all"][1] < 1.0, delta
    assert delta["all"][2] < 1.0, delta
    assert delta["default"][2] == delta["all"][2], delta
    np.testing.assert_array_equal(delta["default"][:2], 1.0)
