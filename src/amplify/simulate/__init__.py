"""Simulated worlds with a known truth: post histories for the model, daily worlds for the
allocator.

* :class:`World` draws post histories in the model's own family (:class:`WorldTruth`,
  :func:`default_truth`), with the true curves and the exact oracle split, for recovery checks, the
  sample data and demos.
* :class:`CampaignWorld` is a daily world whose true curves come from other families (hill, power,
  tanh), with shocks, count noise, spend deviations, reporting delays and changes over time, for the
  online loop and the allocation benchmark; :class:`DayOutcome` is what one day returns.
"""

from amplify.simulate.campaign_world import DELAY_PMF, VARIANTS, CampaignWorld, DayOutcome
from amplify.simulate.families import FAMILIES, CurveSet, make_curves, oracle_split
from amplify.simulate.truth import PlatformTruth, WorldTruth, default_truth
from amplify.simulate.world import AUDIENCE, World, mm_oracle

__all__ = [
    "AUDIENCE",
    "DELAY_PMF",
    "FAMILIES",
    "VARIANTS",
    "CampaignWorld",
    "CurveSet",
    "DayOutcome",
    "PlatformTruth",
    "World",
    "WorldTruth",
    "default_truth",
    "make_curves",
    "mm_oracle",
    "oracle_split",
]
