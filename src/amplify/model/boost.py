"""BoostModel: fit the Bayesian boost model to an account's post history, then predict and rank.

Scikit-learn style: ``__init__`` stores the settings; :meth:`BoostModel.fit` learns from a post
table and
returns ``self``; learned state ends in ``_``. Everything downstream (curves, rankings, what-ifs,
the
organic→paid effect) is computed from the posterior draws in numpy (:mod:`amplify.model.predict`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from amplify import constants as C
from amplify.curves import ResponseCurves
from amplify.model import build, fastlogp
from amplify.model import predict as pred
from amplify.model.diagnostics import Diagnostics, assess, convergence, predictive_checks
from amplify.model.features import Features, Levels, detect_segments, learn_levels, make_features
from amplify.model.priors import Priors, SamplerConfig
from amplify.model.transforms import expected_ctr

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
#: Boost spend assumed for the k prior when the table has no boosted posts.
_DEFAULT_BOOST_SPEND = 50.0


class NotFittedError(RuntimeError):
    """The model must be fitted (or loaded) first."""


class BoostModel:
    """The Bayesian boost model: organic resonance, paid funnel, diminishing returns, pooling.

    Parameters
    ----------
    priors
        Prior settings and structural switches (:class:`~amplify.model.Priors`); defaults if
        omitted.
        ``Priors(use_organic=False)`` is the pooled baseline without the organic→paid link.
    sampler
        How to fit (:class:`~amplify.model.SamplerConfig`): nutpie NUTS by default; PyMC NUTS; or a
        fast
        approximation (``method="advi"``), labelled ``approximate`` in the diagnostics.
    segments
        Extra categorical columns with CTR effects (e.g. ``("audience",)``). ``None`` uses every
        extra text
        column with 2-30 levels; ``()`` uses none.

    Attributes
    ----------
    idata_ : xarray.DataTree
        Posterior (stacked model parameters plus natural-scale ones: ``cpm, k, ctr, cvr,
        view_through,
        conv_alpha, organic_effect, ...`` per platform), sample stats, observed data.
    diagnostics_ : Diagnostics
        Convergence and posterior predictive checks with plain-language warnings.
    platforms_, formats_, segments_ : tuple
        Levels seen at fit time (``segments_`` = segment column names).
    priors_, sampler_ : Priors, SamplerConfig
        The settings actually used (organic switched off when the table has no organic data).
    posts_ : pandas.DataFrame
        The training table (candidates for :meth:`post_curves` / :meth:`rank_candidates`).
    """

    def __init__(
        self,
        priors: Priors | None = None,
        sampler: SamplerConfig | None = None,
        *,
        segments: Sequence[str] | None = None,
    ) -> None:
        self.priors = priors
        self.sampler = sampler
        self.segments = segments

    # --- fitting
    # ------------------------------------------------------------------------------------
    def fit(self, posts: pd.DataFrame, *, progress: Progress | None = None) -> BoostModel:
        """Fit the model to a canonical post table; returns ``self``.

        Parameters
        ----------
        posts
            One row per post (boosted or not); see :mod:`amplify.constants` for the columns.
            Organic columns
            are optional per row.
        progress
            Optional ``progress(stage, fraction)`` callback, called from the calling thread.
        """
        t0 = time.perf_counter()
        report = progress or (lambda stage, frac: None)
        priors = self.priors or Priors()
        sampler = self.sampler or SamplerConfig()
        segs = detect_segments(posts) if self.segments is None else tuple(self.segments)
        report("checking the data", 0.0)
        levels = learn_levels(posts, segs)
        feat = make_features(posts, levels)
        notes: list[str] = []
        if priors.use_organic and feat.idx_o.size == 0:
            priors = priors.model_copy(update={"use_organic": False})
            notes.append(
                "no organic data in the table: fitted without the organic→paid link "
                "(organic_effect is not available)"
            )
        priors = priors.model_copy(update={"use_shares": _use_shares(priors, feat)})
        boosted_spend = feat.spend[feat.idx_imp]
        spend_scale = (
            float(np.median(boosted_spend)) if boosted_spend.size else _DEFAULT_BOOST_SPEND
        )
        log_k_center = float(np.log(priors.k_spend_multiple * spend_scale))
        if feat.idx_c.size == 0:
            notes.append(
                "no boosted posts with paid results: paid predictions come from the priors only"
            )

        report("compiling the model", 0.02)
        idata, approximate, method_used, extra = _run_sampler(
            feat, levels, priors, sampler, log_k_center, report
        )
        notes.extend(extra)
        post = idata["posterior"].to_dataset()
        for name, da in pred.named_parameters(post, priors).items():
            if name not in post:
                post[name] = da
        idata["posterior"] = xr.DataTree(post)
        idata["observed_data"] = xr.DataTree(_observed(feat))

        self.priors_ = priors
        self.sampler_ = sampler
        self.levels_ = levels
        self.platforms_ = levels.platforms
        self.formats_ = levels.formats
        self.segments_ = tuple(levels.segments)
        self.posts_ = posts.copy()
        self.log_k_center_ = log_k_center
        self.max_spend_ = _max_spend(feat, levels)
        self.idata_ = idata

        report("checking the fit", 0.93)
        self.diagnostics_ = self._diagnose(
            feat, approximate, method_used, sampler, time.perf_counter() - t0, notes
        )
        self.fit_seconds_ = time.perf_counter() - t0
        report("done", 1.0)
        return self

    def _diagnose(
        self,
        feat: Features,
        approximate: bool,
        method: str,
        sampler: SamplerConfig,
        seconds: float,
        notes: list[str],
    ) -> Diagnostics:
        post = self.idata_["posterior"]
        free = [*build.PLATFORM_LEVEL_VARS, "format_sigma", "format_effect"]
        free += [f"segment_sigma_{c}" for c in self.segments_]
        free += [f"segment_effect_{c}" for c in self.segments_]
        if approximate:
            rhat = ess_b = ess_t = float("nan")
            div = 0
        else:
            rhat, ess_b, ess_t, div = convergence(self.idata_, free)
        ppc: dict[str, float] = {}
        i = feat.idx_conv
        if i.size:
            d = self._draws(max_draws=400, seed=sampler.seed)
            sub = _subset(feat, i)
            draws = pred.predictive_draws(
                d, sub, feat.spend[i], np.random.default_rng(sampler.seed), use_paid=True
            )
            obs = {
                C.CONVERSIONS: feat.conversions[i],
                C.CLICKS: feat.clicks[i],
                C.PAID_IMPRESSIONS: feat.paid_impressions[i],
            }
            ppc = predictive_checks(obs, draws, [self.platforms_[p] for p in feat.platform[i]])
        return assess(
            max_rhat=rhat,
            min_ess_bulk=ess_b,
            min_ess_tail=ess_t,
            divergences=div,
            approximate=approximate,
            ppc=ppc,
            method=method,
            n_chains=int(post.sizes["chain"]),
            n_draws=int(post.sizes["draw"]),
            fit_seconds=seconds,
            extra_warnings=notes,
        )

    # --- helpers
    # ---------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError("this BoostModel is not fitted yet: call fit(posts) or load(path)")

    def _draws(self, *, max_draws: int | None, seed: int) -> pred.Draws:
        self._check_fitted()
        return pred.draws_from_posterior(
            self.idata_["posterior"].to_dataset(),
            self.levels_,
            self.priors_,
            max_draws=max_draws,
            seed=seed,
        )

    def _features(self, posts: pd.DataFrame | None, *, candidates: bool) -> Features:
        self._check_fitted()
        if posts is None:
            posts = self.posts_
            if candidates:
                feat_all = make_features(posts, self.levels_)
                posts = posts.loc[~feat_all.boosted]
        return make_features(posts, self.levels_)

    @property
    def organic_used_(self) -> bool:
        """Whether the fit used organic signals (False for the baseline or tables without them)."""
        self._check_fitted()
        return bool(self.priors_.use_organic)

    # --- curves and rankings
    # ---------------------------------------------------------------------------
    def platform_curves(
        self,
        n_boosts: int | Mapping[str, int] = 1,
        *,
        max_draws: int | None = 1000,
        seed: int = 0,
    ) -> ResponseCurves:
        """Response-curve draws per platform for boosting a typical post.

        Parameters
        ----------
        n_boosts
            Number of boosts the platform's spend is spread over (one number, or per platform); the
            saturation spend ``k`` scales with it.
        max_draws
            Thin the posterior to at most this many draws (None = all).
        seed
            Seeds the thinning.
        """
        d = self._draws(max_draws=max_draws, seed=seed)
        nb = np.array(
            [
                float(n_boosts.get(p, 1) if isinstance(n_boosts, Mapping) else n_boosts)
                for p in self.platforms_
            ]
        )
        if np.any(nb < 1):
            raise ValueError(f"n_boosts must be >= 1, got {n_boosts}")
        beta, k, value = pred.platform_curve_draws(d, self.levels_, nb)
        return ResponseCurves(
            arms=self.platforms_,
            beta=beta,
            k=k,
            platform=self.platforms_,
            value=value if self._has_revenue() else None,
            max_observed_spend=self.max_spend_ * nb,
            meta=self._meta(
                "platform_curves", n_boosts=dict(zip(self.platforms_, nb.tolist(), strict=True))
            ),
        )

    def post_curves(
        self, posts: pd.DataFrame | None = None, *, max_draws: int | None = 1000, seed: int = 0
    ) -> ResponseCurves:
        """Response-curve draws per post (arms ``"platform:post_id"``).

        Each post's paid CTR is drawn from what its organic data (and its own past boost, if the
        table has
        one) say about it. ``posts`` defaults to the training table's candidates (posts never
        boosted).
        """
        feat = self._features(posts, candidates=True)
        if feat.n == 0:
            raise ValueError("no candidate posts: every post in the table was already boosted")
        d = self._draws(max_draws=max_draws, seed=seed)
        beta, k, value = pred.post_curve_draws(d, feat, np.random.default_rng(seed + 1))
        plats = tuple(self.platforms_[p] for p in feat.platform)
        return ResponseCurves(
            arms=tuple(f"{p}:{i}" for p, i in zip(plats, feat.post_id, strict=True)),
            beta=beta,
            k=k,
            platform=plats,
            value=value if self._has_revenue() else None,
            max_observed_spend=self.max_spend_[feat.platform],
            meta=self._meta("post_curves"),
        )

    def rank_candidates(
        self,
        posts: pd.DataFrame | None = None,
        *,
        spend: float = 100.0,
        max_draws: int | None = 1000,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Candidate posts ranked by expected conversions per 100 of spend (one boost of ``spend``).

        Returns ``post_id, platform, conv_per_100_mean, conv_per_100_lo, conv_per_100_hi`` (90%
        interval),
        ``prob_top_decile`` (posterior probability of being in the top 10%) and ``rank``.
        """
        if not spend > 0:
            raise ValueError(f"spend must be > 0, got {spend}")
        curves = self.post_curves(posts, max_draws=max_draws, seed=seed)
        ids = np.array([a.split(":", 1)[1] for a in curves.arms], dtype=object)
        return pred.rank_table(ids, curves.platform, curves.beta, curves.k, spend=spend)

    def organic_effect(self) -> pd.DataFrame:
        """The organic→paid effect per platform: does boosting what resonates organically pay here?

        ``effect_*``: change in paid-CTR logit per SD of organic resonance (90% interval, P(> 0));
        ``per_er_*``: change in paid-CTR logit per unit of organic engagement-rate logit (effect /
        tau).
        NaN when the fit did not use organic signals.
        """
        self._check_fitted()
        post = self.idata_["posterior"]
        rows = []
        for p in self.platforms_:
            if self.priors_.use_organic:
                b = np.asarray(post["organic_effect"].sel(platform=p).values).ravel()
                r = np.asarray(post["organic_effect_per_er"].sel(platform=p).values).ravel()
                rows.append(
                    {
                        C.PLATFORM: p,
                        "effect_mean": b.mean(),
                        "lo90": np.quantile(b, 0.05),
                        "hi90": np.quantile(b, 0.95),
                        "prob_positive": float(np.mean(b > 0)),
                        "per_er_mean": r.mean(),
                        "per_er_lo90": np.quantile(r, 0.05),
                        "per_er_hi90": np.quantile(r, 0.95),
                    }
                )
            else:
                rows.append({C.PLATFORM: p} | dict.fromkeys(_EFFECT_COLS, np.nan))
        return pd.DataFrame(rows)

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """Natural-scale platform parameters: mean and central ``prob`` interval per platform."""
        self._check_fitted()
        post = self.idata_["posterior"]
        names = [
            "cpm",
            "k",
            "impr_sigma",
            "ctr",
            "ctr_sigma",
            "organic_effect",
            "organic_effect_per_er",
            "er",
            "resonance_er",
            "cvr",
            "view_through",
            "conv_alpha",
            "value",
        ]
        a = (1 - prob) / 2
        rows = []
        for name in names:
            if name not in post:
                continue
            for p in self.platforms_:
                x = np.asarray(post[name].sel(platform=p).values).ravel()
                rows.append(
                    {
                        "parameter": name,
                        C.PLATFORM: p,
                        "mean": x.mean(),
                        "lo": np.quantile(x, a),
                        "hi": np.quantile(x, 1 - a),
                    }
                )
        return pd.DataFrame(rows)

    # --- predictions
    # -------------------------------------------------------------------------------------
    def predict(
        self, posts: pd.DataFrame, *, max_draws: int | None = 1000, seed: int = 0
    ) -> xr.Dataset:
        """Posterior predictive draws of boosting each row of ``posts`` at its ``spend``.

        The rows' paid outcome columns are ignored (they are what is predicted); organic columns,
        format,
        platform and segments are used.

        Returns
        -------
        xarray.Dataset
            Dims ``(sample, post)``: ``paid_impressions, clicks, conversions, revenue`` (with count
            noise),
            ``expected_conversions`` (no count noise), ``cpa`` (spend / expected conversions) and,
            when the
            training data had revenue, ``roas`` (expected revenue / spend).
        """
        self._check_fitted()
        if C.SPEND not in posts.columns:
            raise ValueError("predict needs a 'spend' column: the spend to evaluate for each post")
        spend = pd.to_numeric(posts[C.SPEND], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if np.any(spend < 0):
            raise ValueError("spend must be >= 0")
        organic_only = posts.drop(
            columns=[
                c
                for c in (C.PAID_IMPRESSIONS, C.CLICKS, C.CONVERSIONS, C.REVENUE, C.BOOSTED)
                if c in posts.columns
            ]
        ).assign(**{C.SPEND: 0.0})
        feat = make_features(organic_only, self.levels_)
        d = self._draws(max_draws=max_draws, seed=seed)
        out = pred.predictive_draws(d, feat, spend, np.random.default_rng(seed + 2))
        dims = (C.DIM_DRAW, C.DIM_POST)
        coords = {
            C.DIM_POST: feat.post_id.astype(str),
            C.PLATFORM: (C.DIM_POST, [self.platforms_[p] for p in feat.platform]),
        }
        ds = xr.Dataset({k: (dims, v) for k, v in out.items()}, coords=coords)
        exp_conv = out["expected_conversions"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ds["cpa"] = (dims, np.where(exp_conv > 0, spend[None, :] / exp_conv, np.nan))
            if self._has_revenue():
                value = d.params["value"][:, feat.platform]
                ds["roas"] = (dims, np.where(spend > 0, exp_conv * value / spend, np.nan))
        ds[C.SPEND] = (C.DIM_POST, spend)
        return ds

    def log_likelihood(
        self,
        posts: pd.DataFrame,
        *,
        stages: Sequence[str] = pred.PAID_STAGES,
        max_draws: int | None = None,
        seed: int = 0,
    ) -> np.ndarray:
        """Log likelihood ``(n_draws, n_posts)`` of the posts' data for the given stages.

        With the default paid stages this is the density of each boost's impressions, clicks and
        conversions given its spend and organic data (the quantity compared on held-out posts).
        """
        unknown = set(stages) - set(pred.STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; known: {pred.STAGES}")
        feat = make_features(posts, self.levels_)
        d = self._draws(max_draws=max_draws, seed=seed)
        parts = pred.pointwise_loglik(d, feat)
        return np.sum([parts[s] for s in stages], axis=0)

    def heldout_lpd(self, posts: pd.DataFrame, *, max_draws: int | None = None) -> np.ndarray:
        """Log predictive density per post of its boost's impressions, clicks and conversions."""
        return pred.lpd(self.log_likelihood(posts, max_draws=max_draws))

    def prior_predictive(
        self, posts: pd.DataFrame | None = None, *, n_draws: int = 500, seed: int = 0
    ) -> pd.DataFrame:
        """Draws of platform-level quantities from the prior (do the priors land on real scales?).

        Returns one row per draw and platform: ``cpm, ctr`` (typical post), ``cvr, view_through,
        k``.
        Uses the fitted table's levels, or ``posts`` when the model is not fitted.
        """
        import pymc as pm

        priors = getattr(self, "priors_", None) or self.priors or Priors()
        if posts is None:
            self._check_fitted()
            posts = self.posts_
            levels = self.levels_
            log_k_center = self.log_k_center_
        else:
            segs = detect_segments(posts) if self.segments is None else tuple(self.segments)
            levels = learn_levels(posts, segs)
            feat0 = make_features(posts, levels)
            spend = feat0.spend[feat0.idx_imp]
            scale = float(np.median(spend)) if spend.size else _DEFAULT_BOOST_SPEND
            log_k_center = float(np.log(priors.k_spend_multiple * scale))
        feat = make_features(posts, levels)
        model = build.build_model(feat, levels, priors, log_k_center=log_k_center)
        names = [v.name for v in model.free_RVs]
        with warnings.catch_warnings():
            # only the free parameters are drawn: ignoring the likelihood potential is the point
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            prior = pm.sample_prior_predictive(
                draws=n_draws, model=model, var_names=names, random_seed=seed
            )["prior"].to_dataset()
        d = pred.draws_from_posterior(prior, levels, priors)
        par = d.params
        ctr = expected_ctr(par["ctr_logit"], par["ctr_sigma"])
        frames = []
        for j, p in enumerate(levels.platforms):
            frames.append(
                pd.DataFrame(
                    {
                        C.PLATFORM: p,
                        "cpm": par["cpm"][:, j],
                        "ctr": ctr[:, j],
                        "cvr": par["cvr"][:, j],
                        "view_through": par["view_through"][:, j],
                        "k": par["k"][:, j],
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    # --- persistence
    # ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted model to the folder ``path`` (NetCDF + JSON config; no pickle)."""
        from amplify.persistence import save_model

        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BoostModel:
        """Load a model saved by :meth:`save` (clear errors for other versions, corrupt files)."""
        from amplify.persistence import load_model

        return load_model(path)

    # --- small helpers
    # ------------------------------------------------------------------------------
    def _has_revenue(self) -> bool:
        obs = self.idata_["observed_data"]
        return "n_revenue" in obs.attrs and int(obs.attrs["n_revenue"]) > 0

    def _meta(self, what: str, **extra: object) -> dict[str, object]:
        return {
            "source": f"amplify.model.BoostModel.{what}",
            "approximate": bool(self.diagnostics_.approximate),
            "organic": bool(self.priors_.use_organic),
            **extra,
        }

    def __repr__(self) -> str:
        state = f"fitted on {len(self.posts_)} posts" if hasattr(self, "idata_") else "not fitted"
        return f"BoostModel({state})"


_EFFECT_COLS = (
    "effect_mean",
    "lo90",
    "hi90",
    "prob_positive",
    "per_er_mean",
    "per_er_lo90",
    "per_er_hi90",
)


# --- sampling
# ----------------------------------------------------------------------------------------
def _run_sampler(
    feat: Features,
    levels: Levels,
    priors: Priors,
    cfg: SamplerConfig,
    log_k_center: float,
    report: Progress,
) -> tuple[xr.DataTree, bool, str, list[str]]:
    """Fit with the configured method; returns ``(idata, approximate, method_label, notes)``."""
    notes: list[str] = []
    method = cfg.method
    if method == "pathfinder":
        notes.append("pathfinder needs pymc-extras, which is not installed: used ADVI instead")
        method = "advi"
    if method == "advi":
        return _fit_advi(feat, levels, priors, cfg, log_k_center, report), True, "advi", notes
    if cfg.nuts_sampler == "pymc":
        idata = _sample_pymc(feat, levels, priors, cfg, log_k_center, report)
        return idata, False, "nuts (pymc)", notes
    return _sample_nutpie(feat, levels, priors, cfg, log_k_center, report), False, "nuts", notes


def _cores(cfg: SamplerConfig) -> int:
    return cfg.cores or max(1, min(cfg.chains, os.cpu_count() or 1))


def _sample_nutpie(
    feat: Features,
    levels: Levels,
    priors: Priors,
    cfg: SamplerConfig,
    log_k_center: float,
    report: Progress,
) -> xr.DataTree:
    import nutpie

    # the whole density as one numba function (tested equal to the PyMC model's): it loads in
    # about a second instead of nutpie's 10-30 s compile of the PyMC graph
    compiled = fastlogp.compiled(feat, levels, priors, log_k_center=log_k_center)
    state = {"frac": 0.0}
    lock = threading.Lock()

    def on_progress(chains: Any) -> None:
        done = sum(int(c.finished_draws) for c in chains)
        total = sum(int(c.total_draws) for c in chains) or 1
        with lock:
            state["frac"] = done / total

    sampler = nutpie.sample(
        compiled,
        draws=cfg.draws,
        tune=cfg.tune,
        chains=cfg.chains,
        cores=_cores(cfg),
        seed=cfg.seed,
        target_accept=cfg.target_accept,
        adaptation=cfg.adaptation,
        save_warmup=False,
        progress_bar=False,
        progress_callback=on_progress,
        blocking=False,
    )
    while not _finished(sampler):
        with lock:
            frac = state["frac"]
        report("sampling", 0.05 + 0.85 * frac)
        time.sleep(0.2)
    trace = sampler.wait()
    report("sampling", 0.9)
    return trace


def _finished(sampler: Any) -> bool:
    try:
        return bool(sampler.is_finished)
    except TimeoutError:  # nutpie could not take its lock in time: still running
        return False


def _sample_pymc(
    feat: Features,
    levels: Levels,
    priors: Priors,
    cfg: SamplerConfig,
    log_k_center: float,
    report: Progress,
) -> xr.DataTree:
    import pymc as pm

    model = build.build_model(feat, levels, priors, log_k_center=log_k_center)
    report("sampling (PyMC NUTS)", 0.05)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        idata = pm.sample(
            draws=cfg.draws,
            tune=cfg.tune,
            chains=cfg.chains,
            cores=_cores(cfg),
            target_accept=cfg.target_accept,
            random_seed=cfg.seed,
            nuts_sampler="pymc",
            progressbar=False,
            compute_convergence_checks=False,
        )
    report("sampling (PyMC NUTS)", 0.9)
    return idata


def _fit_advi(
    feat: Features,
    levels: Levels,
    priors: Priors,
    cfg: SamplerConfig,
    log_k_center: float,
    report: Progress,
) -> xr.DataTree:
    import pymc as pm

    model = build.build_model(feat, levels, priors, log_k_center=log_k_center)
    n = cfg.advi_iterations
    step = max(1, n // 50)

    def callback(approx: Any, losses: Any, i: int) -> None:
        if i % step == 0:
            report("fitting (ADVI, approximate)", 0.05 + 0.85 * i / n)

    with model:
        approx = pm.fit(
            n=n, method="advi", random_seed=cfg.seed, progressbar=False, callbacks=[callback]
        )
        idata = approx.sample(cfg.draws, random_seed=cfg.seed)
    return idata


def _use_shares(priors: Priors, feat: Features) -> bool:
    """Resolve ``use_shares``: "auto" uses shares whenever some posts have them."""
    return priors.use_organic and feat.idx_s.size > 0 and priors.use_shares is not False


# --- data summaries
# -----------------------------------------------------------------------------------
def _observed(feat: Features) -> xr.Dataset:
    i = feat.idx_conv
    ds = xr.Dataset(
        {
            C.CONVERSIONS: ("boost", feat.conversions[i]),
            C.CLICKS: ("boost", feat.clicks[i]),
            C.PAID_IMPRESSIONS: ("boost", feat.paid_impressions[i]),
            C.SPEND: ("boost", feat.spend[i]),
        },
        coords={"boost": feat.post_id[i].astype(str)},
    )
    ds.attrs["n_revenue"] = int(feat.idx_rev.size)
    ds.attrs["n_posts"] = int(feat.n)
    return ds


def _max_spend(feat: Features, levels: Levels) -> np.ndarray:
    out = np.zeros(len(levels.platforms))
    i = feat.idx_imp
    for j in range(len(levels.platforms)):
        s = feat.spend[i][feat.platform[i] == j]
        out[j] = float(s.max()) if s.size else 0.0
    return out


def _subset(feat: Features, rows: np.ndarray) -> Features:
    """Features of a subset of rows (stage indices re-based)."""
    pos = -np.ones(feat.n, dtype=np.int64)
    pos[rows] = np.arange(rows.size)

    def sub_idx(idx: np.ndarray) -> np.ndarray:
        keep = pos[idx]
        return keep[keep >= 0]

    values: dict[str, Any] = {}
    for name in Features.__dataclass_fields__:
        v = getattr(feat, name)
        if name.startswith("idx_"):
            values[name] = sub_idx(v)
        elif name == "segment":
            values[name] = {k: a[rows] for k, a in v.items()}
        else:
            values[name] = v[rows]
    return Features(**values)
