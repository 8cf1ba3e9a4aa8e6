"""Constraints: validated once, with errors that name the platform and the numbers."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from amplify.allocate import ConstraintError, Constraints, PlatformBounds, compile_constraints
from amplify.testing import synthetic_curves


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"budget": -5.0}, r"budget -5\.00 is negative"),
        (
            {"budget": 100.0, "bounds": {"tiktok": {"min": 50, "max": 10}}},
            r"tiktok: min 50\.00 is above max 10\.00",
        ),
        (
            {"budget": 1000.0, "bounds": {"fb": {"lock": 500, "max": 300}}},
            r"facebook: lock 500\.00 is above max 300\.00",
        ),
        (
            {"budget": 100.0, "bounds": {"Insta": {"min": 150}}},
            r"instagram: min 150\.00 is above the budget 100\.00",
        ),
        (
            {"budget": 100.0, "bounds": {"facebook": {"lock": 60}, "tiktok": {"lock": 60}}},
            r"locks \(facebook 60\.00, tiktok 60\.00\) sum to 120\.00, above the budget 100\.00",
        ),
        (
            {"budget": 100.0, "bounds": {"facebook": {"min": 60}, "tiktok": {"min": 50}}},
            r"minimums and locks \(facebook 60\.00, tiktok 50\.00\) sum to 110\.00",
        ),
        ({"budget": 100.0, "target_cpa": 10.0, "target_roas": 2.0}, "CPA target or a ROAS target"),
        (
            {"budget": 100.0, "bounds": {"tiktok": {"lock": 20}}, "min_per_arm": 50.0},
            r"tiktok: must get 20\.00",
        ),
    ],
)
def test_impossible_constraints_are_named(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ConstraintError, match=pattern):
        Constraints(**kwargs)


def test_constraint_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        Constraints(budget=-1.0)


def test_typos_get_a_hint() -> None:
    with pytest.raises(ConstraintError, match=r"'bugdet' \(did you mean 'budget'\?\)"):
        Constraints(budget=10.0, bugdet=3)
    with pytest.raises(ConstraintError, match=r"'maximum' \(did you mean 'max'\?\)|'maximum'"):
        PlatformBounds(maximum=3)


def test_models_are_frozen_and_validate_types() -> None:
    c = Constraints(budget=100.0)
    with pytest.raises(ValidationError):
        c.budget = 5.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Constraints(budget="lots")
    with pytest.raises(ValidationError):
        Constraints(budget=float("inf"))


def test_platform_aliases_and_replace() -> None:
    c = Constraints(budget=1000.0, bounds={"FB": PlatformBounds(max=300), "Tik Tok": {"min": 10}})
    assert set(c.bounds) == {"facebook", "tiktok"}
    c2 = c.with_budget(2000.0)
    assert c2.budget == 2000.0
    assert c2.bounds == c.bounds
    with pytest.raises(ConstraintError, match="above the budget"):
        c.replace(budget=5.0, bounds={"facebook": {"min": 10}})


def test_compile_checks_the_arms() -> None:
    curves = synthetic_curves(3, 10, seed=0)
    with pytest.raises(
        ConstraintError, match=r"unknown platform 'facebok' \(did you mean 'facebook'\?\)"
    ):
        compile_constraints(curves, Constraints(budget=100.0, bounds={"facebok": {"max": 5}}))
    posts = synthetic_curves(
        4, 10, seed=0, arms=["facebook:a", "facebook:b", "tiktok:c", "tiktok:d"]
    )
    with pytest.raises(ConstraintError, match="no arm on instagram"):
        compile_constraints(posts, Constraints(budget=100.0, bounds={"instagram": {"min": 5}}))
    with pytest.raises(ConstraintError, match=r"allow at most 60\.00, below the budget 100\.00"):
        compile_constraints(
            curves,
            Constraints(
                budget=100.0, bounds={p: {"max": 20} for p in ("facebook", "instagram", "tiktok")}
            ),
        )
    comp = compile_constraints(curves, Constraints(budget=100.0, previous={"facebok": 5.0}))
    assert "did you mean 'facebook'" in comp.notes[0]


def test_compiled_boxes() -> None:
    posts = synthetic_curves(
        4, 10, seed=0, arms=["facebook:a", "facebook:b", "tiktok:c", "tiktok:d"]
    )
    c = Constraints(
        budget=1000.0,
        bounds={"facebook": {"max": 400}, "tiktok": {"min": 100}},
        previous={"facebook:a": 500.0, "tiktok:c": 200.0},
        max_change=0.3,
    )
    comp = compile_constraints(posts, c)
    assert [g.platform for g in comp.groups] == ["facebook", "tiktok"]
    np.testing.assert_allclose(comp.lo, [200.0, 0.0, 0.0, 0.0])
    # no post can take more than its platform's maximum (facebook:a: 500 + 300, cut to 400)
    np.testing.assert_allclose(comp.hi, [400.0, 300.0, 500.0, 300.0])
    assert comp.notes == ()
    # one arm's platform: bounds become its box
    single = compile_constraints(
        synthetic_curves(3, 5, seed=0), Constraints(budget=900.0, bounds={"tiktok": {"lock": 250}})
    )
    assert single.groups == ()
    assert single.lo[2] == single.hi[2] == 250.0
