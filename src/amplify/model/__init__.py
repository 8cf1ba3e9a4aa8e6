"""The Bayesian boost model: how organic posts convert when boosted (the only package importing
PyMC).

:class:`BoostModel` fits an account's post history and turns the posterior into response curves,
candidate rankings, what-if predictions and the organic→paid effect. :class:`Priors` and
:class:`SamplerConfig` are its explicit, validated settings; :class:`Diagnostics` says whether to
trust a fit.
"""

from amplify.model.boost import BoostModel, NotFittedError
from amplify.model.diagnostics import Diagnostics
from amplify.model.priors import Priors, SamplerConfig

__all__ = ["BoostModel", "Diagnostics", "NotFittedError", "Priors", "SamplerConfig"]
