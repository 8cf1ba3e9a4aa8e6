"""A seeded ground-truth post world in the model's own family: histories, true curves, oracle.

:class:`World` draws an account's post history (organic posts on three platforms, some of them
boosted) from a :class:`~amplify.simulate.truth.WorldTruth`. Each post has a latent *resonance* that
drives both its organic engagement and its paid click-through rate, which is exactly the link the
model learns. The hidden per-post truth (:meth:`World.post_truth`) and the true response curves
(:meth:`World.true_post_curves`, :meth:`World.true_platform_curves`) let tests and notebooks check
what the model recovers, and
:meth:`World.oracle` gives the best split of a budget when the curves are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplify import constants as C
from amplify.curves import ResponseCurves
from amplify.simulate.truth import FORMAT_MIX, WorldTruth, default_truth

__all__ = ["AUDIENCE", "World", "mm_oracle"]

FloatArray = NDArray[np.float64]
#: Name of the extra segment column of the simulated post table.
AUDIENCE = "audience"

#: Share of posts per platform, organic impressions (median, log-sd) per platform.
_PLATFORM_MIX = {C.FACEBOOK: 0.35, C.INSTAGRAM: 0.40, C.TIKTOK: 0.25}
_ORGANIC_MEDIAN = {C.FACEBOOK: 3000.0, C.INSTAGRAM: 4000.0, C.TIKTOK: 6000.0}
_ORGANIC_SD = 0.8
_ID_PREFIX = {C.FACEBOOK: "fb", C.INSTAGRAM: "ig", C.TIKTOK: "tt"}


def _expit(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


class World:
    """A simulated account whose truth is in the model's curve family.

    Parameters
    ----------
    truth
        The ground truth; :func:`~amplify.simulate.truth.default_truth` when omitted.
    seed
        Seeds every draw of :meth:`posts`; the same ``(truth, seed, arguments)`` gives the same
        table.
    """

    def __init__(self, truth: WorldTruth | None = None, *, seed: int = 0) -> None:
        self.truth: WorldTruth = truth if truth is not None else default_truth()
        self.seed = int(seed)
        self._post_truth: pd.DataFrame | None = None

    # --- post histories
    def posts(
        self,
        n_posts: int,
        *,
        boosted_share: float = 0.35,
        start: str = "2026-01-01",
        days: int = 180,
        organic_missing_share: float = 0.0,
    ) -> pd.DataFrame:
        """Draw a post history: the canonical post table plus the segment column ``"audience"``.

        Parameters
        ----------
        n_posts
            Number of posts over the three platforms (35% Facebook, 40% Instagram, 25% TikTok).
        boosted_share
            Share of posts that were boosted; posts with a high organic engagement rate are more
            likely to be boosted (as in practice).
        start, days
            Posts are spread uniformly over ``days`` days from ``start``.
        organic_missing_share
            Share of rows whose organic columns are missing (exports without organic data).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`amplify.constants.CANONICAL_COLUMNS` then ``"audience"``, sorted by
            ``posted_at``, with the dtypes :func:`amplify.data.load` returns (counts as float64
            holding whole numbers).
        """
        if n_posts < 1:
            raise ValueError(f"n_posts must be >= 1, got {n_posts}")
        if not 0.0 <= boosted_share <= 1.0 or not 0.0 <= organic_missing_share <= 1.0:
            raise ValueError("boosted_share and organic_missing_share must be in [0, 1]")
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        t = self.truth
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x9057]))
        n = int(n_posts)

        # who, when, what
        names = list(t.platforms)
        if not names:
            raise ValueError("the world truth has no platforms")
        platform = _spread(n, {p: _PLATFORM_MIX.get(p, 0.3) for p in names}, rng)
        offset = np.sort(rng.random(n)) * days * 24 * 60
        posted_at = pd.Timestamp(start) + pd.to_timedelta(np.floor(offset), unit="min")
        fmt = np.empty(n, dtype=object)
        for p in names:
            idx = np.flatnonzero(platform == p)
            formats = t.formats(p)
            mix = FORMAT_MIX.get(p, (1.0 / len(formats),) * len(formats))
            fmt[idx] = rng.choice(np.array(formats, dtype=object), size=idx.size, p=mix)
        segments = list(t.segment_ctr)
        audience = rng.choice(np.array(segments, dtype=object), size=n)

        # latent resonance and the post's own paid-CTR noise
        pt = [t.platforms[p] for p in platform]
        fmt_effect = np.array([t.format_effects.get(f, 0.0) for f in fmt])
        resonance = fmt_effect + rng.normal(size=n)
        ctr_u = rng.normal(size=n) * np.array([q.ctr_sigma for q in pt])

        # organic performance
        med = np.array([_ORGANIC_MEDIAN.get(p, 4000.0) for p in platform])
        org_impr = np.maximum(
            np.rint(med * np.exp(0.3 * resonance + _ORGANIC_SD * rng.normal(size=n))), 50
        ).astype(np.int64)
        org_reach = rng.binomial(org_impr, rng.beta(8.0, 3.0, size=n))
        er = _expit(
            np.array([q.er_logit for q in pt]) + np.array([q.resonance_er for q in pt]) * resonance
        )
        engagements = rng.binomial(org_impr, er)
        shares = rng.binomial(engagements, np.array([q.share_rate for q in pt]))

        # which posts get boosted: more often those with a high observed engagement rate
        boosted = np.zeros(n, dtype=bool)
        n_boost = round(boosted_share * n)
        if n_boost > 0:
            score = np.log((engagements + 0.5) / (org_impr - engagements + 0.5))
            for p in names:
                m = platform == p
                if m.sum() > 1:
                    score[m] = (score[m] - score[m].mean()) / (score[m].std() + 1e-9)
            w = np.exp(1.0 * score)
            chosen = rng.choice(n, size=n_boost, replace=False, p=w / w.sum())
            boosted[chosen] = True

        # the boost funnel (drawn for every post, kept for the boosted ones)
        cpm = np.array([q.cpm for q in pt])
        k = np.array([q.k for q in pt])
        spend = np.round(np.maximum(np.exp(np.log(60.0) + 0.9 * rng.normal(size=n)), 1.0), 2)
        median_impr = 1000.0 * spend / cpm / (1.0 + spend / k)
        sigma = np.array([q.impr_sigma for q in pt])
        paid_impr = np.rint(median_impr * np.exp(sigma * rng.normal(size=n))).astype(np.int64)
        seg_shift = np.array([t.segment_ctr[a] for a in audience])
        ctr = _expit(
            np.array([q.ctr_logit for q in pt])
            + seg_shift
            + np.array([q.resonance_ctr for q in pt]) * resonance
            + ctr_u
        )
        clicks = rng.binomial(paid_impr, ctr)
        conv_mean = clicks * np.array([q.cvr for q in pt]) + paid_impr * np.array(
            [q.view_through for q in pt]
        )
        alpha = np.array([q.conv_alpha for q in pt])
        conversions = rng.poisson(conv_mean * rng.gamma(alpha, 1.0 / alpha))
        revenue = np.round(
            conversions * np.array([q.value for q in pt]) * np.exp(0.2 * rng.normal(size=n)), 2
        )
        nb = ~boosted
        spend[nb] = 0.0
        paid_impr[nb] = 0
        clicks[nb] = 0
        conversions[nb] = 0
        revenue[nb] = 0.0

        post_id = np.empty(n, dtype=object)
        for p in names:
            idx = np.flatnonzero(platform == p)
            post_id[idx] = [f"{_ID_PREFIX.get(p, p[:2])}_{i + 1:05d}" for i in range(idx.size)]

        df = pd.DataFrame(
            {
                C.POST_ID: post_id.astype(str),
                C.PLATFORM: platform.astype(str),
                C.POSTED_AT: posted_at,
                C.FORMAT: fmt.astype(str),
                C.ORGANIC_IMPRESSIONS: org_impr,
                C.ORGANIC_REACH: org_reach.astype(np.int64),
                C.ORGANIC_ENGAGEMENTS: engagements.astype(np.int64),
                C.ORGANIC_SHARES: shares.astype(np.int64),
                C.SPEND: spend,
                C.PAID_IMPRESSIONS: paid_impr,
                C.CLICKS: clicks.astype(np.int64),
                C.CONVERSIONS: conversions.astype(np.int64),
                C.REVENUE: revenue,
                C.BOOSTED: boosted,
                AUDIENCE: audience.astype(str),
            }
        )
        # the dtypes of amplify.data.load: numbers as float64 (NaN = missing), timestamps in ns
        for col in C.NUMERIC_COLUMNS:
            df[col] = df[col].astype("float64")
        df[C.POSTED_AT] = df[C.POSTED_AT].astype("datetime64[ns]")
        if organic_missing_share > 0:
            missing = rng.random(n) < organic_missing_share
            for col in C.ORGANIC_COLUMNS:
                df[col] = df[col].where(~missing)
        self._post_truth = pd.DataFrame(
            {
                C.POST_ID: df[C.POST_ID],
                C.PLATFORM: df[C.PLATFORM],
                "resonance": resonance,
                "ctr_u": ctr_u,
                AUDIENCE: df[AUDIENCE],
                "paid_ctr": ctr,
                "organic_er": er,
            }
        )
        return df

    def post_truth(self) -> pd.DataFrame:
        """The hidden truth of the posts drawn by the last :meth:`posts` call.

        Columns ``post_id, platform, resonance, ctr_u`` (the paid-CTR logit noise), ``audience``,
        ``paid_ctr`` (true paid CTR) and ``organic_er`` (true organic engagement rate).
        """
        if self._post_truth is None:
            raise RuntimeError("no posts drawn yet: call World.posts(...) first")
        return self._post_truth.copy()

    # --- true curves
    def true_post_curves(self, posts: pd.DataFrame) -> ResponseCurves:
        """True one-draw curves, one arm ``"platform:post_id"`` per row of ``posts``.

        ``beta = 1000 / cpm * (ctr_i * cvr + view_through)`` with the post's true paid CTR (for the
        row's ``audience`` when the column is present) and ``k`` the platform's per-boost saturation
        spend.
        """
        truth = self.post_truth().set_index([C.PLATFORM, C.POST_ID])
        keys = list(zip(posts[C.PLATFORM].astype(str), posts[C.POST_ID].astype(str), strict=True))
        unknown = [f"{p}:{i}" for p, i in keys if (p, i) not in truth.index]
        if unknown:
            raise KeyError(f"posts not drawn by this world: {unknown[:5]}")
        rows = truth.loc[keys]
        aud = (
            posts[AUDIENCE].astype(str).to_numpy()
            if AUDIENCE in posts.columns
            else rows[AUDIENCE].astype(str).to_numpy()
        )
        beta = np.empty(len(keys))
        k = np.empty(len(keys))
        value = np.empty(len(keys))
        for j, (p, _) in enumerate(keys):
            q = self.truth.platforms[p]
            logit_ctr = (
                q.ctr_logit
                + self.truth.segment_ctr.get(str(aud[j]), 0.0)
                + q.resonance_ctr * float(rows["resonance"].iloc[j])
                + float(rows["ctr_u"].iloc[j])
            )
            ctr = 1.0 / (1.0 + np.exp(-logit_ctr))
            beta[j] = 1000.0 / q.cpm * (ctr * q.cvr + q.view_through)
            k[j] = q.k
            value[j] = q.value
        return ResponseCurves(
            arms=tuple(f"{p}:{i}" for p, i in keys),
            beta=beta[None, :],
            k=k[None, :],
            platform=tuple(p for p, _ in keys),
            value=value[None, :],
            meta={"source": "simulate.World.true_post_curves"},
        )

    def true_platform_curves(self, n_boosts: int | Mapping[str, int] = 1) -> ResponseCurves:
        """True one-draw curves per platform for a typical post (resonance 0).

        The paid CTR is averaged over the post-level noise and over the audience segments (equally
        likely); ``k`` is multiplied by ``n_boosts`` (spend spread over that many boosts saturates
        later).
        """
        nodes, weights = np.polynomial.hermite_e.hermegauss(40)
        weights = weights / weights.sum()
        shifts = np.array(list(self.truth.segment_ctr.values()) or [0.0])
        names = tuple(self.truth.platforms)
        beta = np.empty(len(names))
        k = np.empty(len(names))
        value = np.empty(len(names))
        for j, p in enumerate(names):
            q = self.truth.platforms[p]
            nb = n_boosts.get(p, 1) if isinstance(n_boosts, Mapping) else n_boosts
            if nb < 1:
                raise ValueError(f"n_boosts must be >= 1, got {nb} for {p}")
            lg = q.ctr_logit + shifts[:, None] + q.ctr_sigma * nodes[None, :]
            ctr = float(np.mean((1.0 / (1.0 + np.exp(-lg))) @ weights))
            beta[j] = 1000.0 / q.cpm * (ctr * q.cvr + q.view_through)
            k[j] = q.k * nb
            value[j] = q.value
        return ResponseCurves(
            arms=names,
            beta=beta[None, :],
            k=k[None, :],
            platform=names,
            value=value[None, :],
            meta={"source": "simulate.World.true_platform_curves"},
        )

    def oracle(self, curves: ResponseCurves, budget: float) -> FloatArray:
        """Exact best split of ``budget`` for a one-draw :class:`~amplify.curves.ResponseCurves`."""
        if curves.n_draws != 1:
            raise ValueError(
                f"the oracle needs one draw of curves (the truth), got {curves.n_draws}; "
                "use curves.take_draws([i])"
            )
        return mm_oracle(curves.beta[0], curves.k[0], budget)

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, platforms={list(self.truth.platforms)})"


def mm_oracle(beta: Any, k: Any, budget: float) -> FloatArray:
    """Exact water-filling split of ``budget`` over curves ``beta * s / (1 + s / k)``.

    At the optimum every funded arm has the same marginal return ``lam``:
    ``s = k * (sqrt(beta / lam) - 1)``, clipped at 0. For a given set of funded arms
    ``sqrt(lam) = sum(k * sqrt(beta)) / (budget + sum(k))`` in closed form (no bisection needed);
    the funded set is the largest prefix of arms sorted by ``beta`` whose last member has
    ``beta > lam``.
    """
    b = np.asarray(beta, dtype=float).ravel()
    kk = np.asarray(k, dtype=float).ravel()
    if b.shape != kk.shape:
        raise ValueError("beta and k must have the same length")
    if not (np.isfinite(budget) and budget >= 0):
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    n = b.size
    out = np.zeros(n)
    if budget == 0 or n == 0:
        return out
    if not np.any(b > 0):
        out[:] = budget / n
        return out
    order = np.argsort(-b, kind="stable")
    bs, ks = b[order], kk[order]
    csum_k = np.cumsum(ks)
    csum_ks = np.cumsum(ks * np.sqrt(bs))
    lam = (csum_ks / (budget + csum_k)) ** 2
    valid = np.flatnonzero(bs > lam)
    m = int(valid[-1]) + 1 if valid.size else 1  # bs[0] > lam[0] holds up to rounding
    s = np.maximum(ks[:m] * (np.sqrt(bs[:m] / lam[m - 1]) - 1.0), 0.0)
    total = s.sum()
    if not (
        np.isfinite(total) and total > 0
    ):  # a budget too small to resolve: the best arm takes it
        s = np.zeros(m)
        s[0] = budget
        total = budget
    out[order[:m]] = s * (budget / total)
    return out


def _spread(n: int, mix: Mapping[str, float], rng: np.random.Generator) -> NDArray[np.str_]:
    """``n`` labels in the proportions ``mix`` (largest remainder), shuffled."""
    names = list(mix)
    share = np.array([mix[k] for k in names])
    raw = share / share.sum() * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: n - counts.sum()]:
        counts[i] += 1
    labels = np.repeat(np.array(names), counts)
    rng.shuffle(labels)
    return labels
