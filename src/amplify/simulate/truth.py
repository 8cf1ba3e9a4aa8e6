"""Ground-truth parameters of the simulated post world, in the model's own curve family.

:class:`PlatformTruth` holds one platform's funnel (CPM with saturation, paid CTR tied to a post's
latent resonance, organic engagement, CVR, view-through, count noise); :class:`WorldTruth` holds the
three platforms plus format and audience effects. :func:`default_truth` returns defaults grounded in
published field figures and, given a seed, a jittered but plausible variant of them (for recovery
studies over many worlds).

Published figures behind the defaults:

* average organic engagement rate: Instagram 3.5%, TikTok 1.5%, Facebook 1.3%;
* share of consumers who go to the platform when ready to buy: Facebook 39%, TikTok 36%, Instagram
29%
  (used as the relative conversion rate per click: 3.9%, 3.6%, 2.9%);
* CPM around $10 (Facebook), $8 (Instagram), $6 (TikTok); paid CTR 0.8-1.6%.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from amplify.constants import FACEBOOK, INSTAGRAM, PLATFORMS, TIKTOK

__all__ = [
    "DEFAULT_FORMAT_EFFECTS",
    "DEFAULT_SEGMENT_CTR",
    "FORMATS_BY_PLATFORM",
    "PlatformTruth",
    "WorldTruth",
    "default_truth",
    "expit",
    "logit",
]


def logit(p: float) -> float:
    """Log-odds of a probability."""
    return math.log(p / (1.0 - p))


def expit(x: float) -> float:
    """Inverse of :func:`logit`."""
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class PlatformTruth:
    """One platform's ground truth, in the model's curve family.

    Parameters
    ----------
    name
        ``"facebook"``, ``"instagram"`` or ``"tiktok"``.
    cpm
        Currency per 1000 paid impressions at low spend.
    k
        Per-boost saturation spend: the median paid impressions of a boost with spend ``s`` are
        ``1000 * s / cpm / (1 + s / k)``.
    impr_sigma
        Log-normal sd of paid impressions around that median.
    ctr_logit
        Paid-CTR logit intercept at resonance 0 and the baseline audience segment.
    resonance_ctr
        The organic-to-paid effect: change of logit(paid CTR) per unit of latent resonance.
    ctr_sigma
        Sd of the post-level paid-CTR logit noise not explained by resonance.
    er_logit
        Organic engagement-rate (per organic impression) logit intercept at resonance 0.
    resonance_er
        Change of logit(organic ER) per unit of resonance.
    cvr
        Conversions per click.
    view_through
        View-through conversions per paid impression (conversions without a click).
    conv_alpha
        Negative-binomial shape of conversion counts (smaller = more over-dispersed).
    value
        Revenue per conversion, in account currency.
    share_rate
        Organic shares per engagement.
    """

    name: str
    cpm: float
    k: float
    impr_sigma: float
    ctr_logit: float
    resonance_ctr: float
    ctr_sigma: float
    er_logit: float
    resonance_er: float
    cvr: float
    view_through: float
    conv_alpha: float
    value: float
    share_rate: float

    def __post_init__(self) -> None:
        positive = ("cpm", "k", "impr_sigma", "ctr_sigma", "cvr", "conv_alpha", "value")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(
                    f"PlatformTruth({self.name}).{name} must be finite and > 0, got {v}"
                )
        for name in ("view_through", "resonance_ctr", "resonance_er"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(
                    f"PlatformTruth({self.name}).{name} must be finite and >= 0, got {v}"
                )
        if not (0.0 <= self.share_rate <= 1.0 and 0.0 < self.cvr <= 1.0):
            raise ValueError(f"PlatformTruth({self.name}): share_rate and cvr must be in [0, 1]")


@dataclass(frozen=True)
class WorldTruth:
    """The full ground truth of a simulated account.

    Parameters
    ----------
    platforms
        :class:`PlatformTruth` per platform name.
    format_effects
        Shift of the mean resonance by post format (``reel``/``video`` above ``image`` above
        ``link``/``text``).
    segment_ctr
        Paid-CTR logit shift by audience segment (the extra post-table column ``"audience"``); the
        first segment is the baseline (shift 0).
    """

    platforms: dict[str, PlatformTruth]
    format_effects: dict[str, float]
    segment_ctr: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary; :meth:`from_dict` rebuilds an equal :class:`WorldTruth`."""
        return {
            "platforms": {name: asdict(p) for name, p in self.platforms.items()},
            "format_effects": {k: float(v) for k, v in self.format_effects.items()},
            "segment_ctr": {k: float(v) for k, v in self.segment_ctr.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldTruth:
        """Rebuild a :class:`WorldTruth` from :meth:`to_dict` output (e.g. after JSON)."""
        missing = {"platforms", "format_effects", "segment_ctr"} - set(d)
        if missing:
            raise ValueError(f"world truth dictionary lacks keys {sorted(missing)}")
        known = {f.name for f in fields(PlatformTruth)}
        platforms: dict[str, PlatformTruth] = {}
        for name, p in d["platforms"].items():
            extra = set(p) - known
            lacking = known - set(p)
            if extra or lacking:
                raise ValueError(
                    f"platform {name!r}: unknown keys {sorted(extra)}, "
                    f"missing keys {sorted(lacking)}"
                )
            platforms[name] = PlatformTruth(**{**p, "name": str(p["name"])})
        return cls(
            platforms=platforms,
            format_effects={str(k): float(v) for k, v in d["format_effects"].items()},
            segment_ctr={str(k): float(v) for k, v in d["segment_ctr"].items()},
        )

    def formats(self, platform: str) -> tuple[str, ...]:
        """The post formats used on ``platform``."""
        return FORMATS_BY_PLATFORM.get(platform, ("image",))


#: Format vocabulary per platform, with how often each format is posted.
FORMATS_BY_PLATFORM: dict[str, tuple[str, ...]] = {
    FACEBOOK: ("image", "video", "link", "text"),
    INSTAGRAM: ("image", "reel", "carousel"),
    TIKTOK: ("video",),
}
FORMAT_MIX: dict[str, tuple[float, ...]] = {
    FACEBOOK: (0.40, 0.25, 0.25, 0.10),
    INSTAGRAM: (0.35, 0.40, 0.25),
    TIKTOK: (1.0,),
}
DEFAULT_FORMAT_EFFECTS: dict[str, float] = {
    "reel": 0.4,
    "video": 0.3,
    "carousel": 0.15,
    "image": 0.0,
    "link": -0.3,
    "text": -0.4,
}
DEFAULT_SEGMENT_CTR: dict[str, float] = {"broad": 0.0, "interest": 0.15, "lookalike": 0.3}

# Each platform's defaults, one column a platform. Facebook: the dearest reach and a modest CTR, but
# the highest purchase intent and the largest audience (slow saturation). Instagram: high organic
# engagement, lowest purchase intent per click. TikTok: cheap impressions and high paid CTR, but a
# small reachable audience per boost (fast saturation).
_DEFAULT_PLATFORMS = (FACEBOOK, INSTAGRAM, TIKTOK)
# fmt: off
_DEFAULT_PARAMS: dict[str, tuple[float, float, float]] = {
    #                 facebook        instagram       tiktok
    "cpm":           (10.0,           8.0,            6.0),
    "k":             (400.0,          150.0,          120.0),
    "impr_sigma":    (0.25,           0.25,           0.3),
    "ctr_logit":     (logit(0.0055),  logit(0.0045),  logit(0.008)),
    "resonance_ctr": (0.35,           0.45,           0.5),
    "ctr_sigma":     (0.3,            0.3,            0.35),
    "er_logit":      (logit(0.013),   logit(0.035),   logit(0.015)),
    "resonance_er":  (0.5,            0.5,            0.6),
    "cvr":           (0.039,          0.029,          0.036),
    "view_through":  (5e-5,           3e-5,           2e-5),
    "conv_alpha":    (20.0,           20.0,           15.0),
    "value":         (55.0,           45.0,           35.0),
    "share_rate":    (0.12,           0.06,           0.10),
}
# fmt: on
_DEFAULTS: dict[str, PlatformTruth] = {
    name: PlatformTruth(name, **{param: column[i] for param, column in _DEFAULT_PARAMS.items()})
    for i, name in enumerate(_DEFAULT_PLATFORMS)
}

# Jitter per parameter: ("log", sd) multiplies by LogNormal(0, sd); ("add", sd) adds Normal(0, sd).
_JITTER: dict[str, tuple[str, float]] = {
    "cpm": ("log", 0.15),
    "k": ("log", 0.3),
    "impr_sigma": ("log", 0.15),
    "ctr_logit": ("add", 0.15),
    "resonance_ctr": ("log", 0.25),
    "ctr_sigma": ("log", 0.2),
    "er_logit": ("add", 0.1),
    "resonance_er": ("log", 0.2),
    "cvr": ("log", 0.15),
    "view_through": ("log", 0.3),
    "conv_alpha": ("log", 0.3),
    "value": ("log", 0.2),
    "share_rate": ("log", 0.2),
}


def default_truth(seed: int | None = None) -> WorldTruth:
    """Published-figure defaults, optionally jittered.

    Parameters
    ----------
    seed
        ``None`` gives the un-jittered defaults. With a seed, every platform parameter is jittered
        (multiplicatively for scales, additively for logits), and format and segment effects
        slightly, so different seeds give different, all plausible, truths.

    Returns
    -------
    WorldTruth
    """
    platforms = dict(_DEFAULTS)
    formats = dict(DEFAULT_FORMAT_EFFECTS)
    segments = dict(DEFAULT_SEGMENT_CTR)
    if seed is None:
        return WorldTruth(platforms=platforms, format_effects=formats, segment_ctr=segments)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7457]))
    for name in PLATFORMS:
        base = platforms[name]
        changes: dict[str, float] = {}
        for param, (kind, sd) in _JITTER.items():
            z = float(rng.normal())
            v = float(getattr(base, param))
            changes[param] = v * math.exp(sd * z) if kind == "log" else v + sd * z
        changes["share_rate"] = min(changes["share_rate"], 0.5)
        platforms[name] = replace(base, **changes)  # type: ignore[arg-type]
    formats = {f: v + 0.1 * float(rng.normal()) for f, v in formats.items()}
    first = next(iter(segments))
    segments = {
        s: (0.0 if s == first else v + 0.05 * float(rng.normal())) for s, v in segments.items()
    }
    return WorldTruth(platforms=platforms, format_effects=formats, segment_ctr=segments)
