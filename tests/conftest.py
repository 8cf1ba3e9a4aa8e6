"""Suite-wide test settings: a deterministic hypothesis profile and a headless matplotlib."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "amplify",
    derandomize=True,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",  # HYPOTHESIS_PROFILE=thorough: ten times the examples, to shake out rare cases
    derandomize=True,
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "amplify"))


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Undo changes a test makes to ``__main__`` (``AppTest.from_function`` points it at a temp
    script), so later process pools started with "spawn" do not try to re-run that script."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    main_spec = getattr(main, "__spec__", None)
    yield
    sys.modules["__main__"] = main  # type: ignore[assignment]
    if main is not None:
        if main_file is None:
            main.__dict__.pop("__file__", None)
        else:
            main.__file__ = main_file
        main.__spec__ = main_spec
