"""Plain-language diagnostics verdicts (amplify.ui.verdicts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from amplify.ui.verdicts import (
    diagnostics_verdicts,
    divergence_verdict,
    ess_verdict,
    overall,
    rhat_verdict,
)


@dataclass
class Diag:
    max_rhat: float | None = 1.0
    min_ess_bulk: float | None = 1500.0
    min_ess_tail: float | None = 900.0
    divergences: int | None = 0
    ok: bool = True
    warnings: list[str] = field(default_factory=list)
    approximate: bool = False


@pytest.mark.parametrize(("r", "status"), [(1.003, "good"), (1.03, "check"), (1.2, "bad")])
def test_rhat(r: float, status: str) -> None:
    assert rhat_verdict(r).status == status


@pytest.mark.parametrize(
    ("bulk", "tail", "status"), [(2000, 800, "good"), (2000, 150, "check"), (50, 900, "bad")]
)
def test_ess_uses_the_smaller(bulk: float, tail: float, status: str) -> None:
    v = ess_verdict(bulk, tail)
    assert v.status == status
    assert v.value == f"{min(bulk, tail):,.0f}"


def test_divergences() -> None:
    assert divergence_verdict(0, 2000).status == "good"
    assert divergence_verdict(1, 2000).status == "check"
    assert divergence_verdict(40, 2000).status == "bad"
    assert "40 of 2,000" in divergence_verdict(40, 2000).value


def test_healthy_fit_is_good_overall() -> None:
    vs = diagnostics_verdicts(Diag())
    assert [v.status for v in vs] == ["good", "good", "good"]
    assert overall(vs)[0] == "good"


def test_one_bad_check_makes_the_fit_bad() -> None:
    vs = diagnostics_verdicts(Diag(max_rhat=1.3))
    status, text = overall(vs)
    assert status == "bad"
    assert "do not act" in text.lower()
    assert "not converged" in vs[0].message


def test_approximate_fit_says_so_and_not_sampler_checks() -> None:
    vs = diagnostics_verdicts(Diag(approximate=True, max_rhat=None))
    assert len(vs) == 1
    assert vs[0].value == "approximate"
    assert "full fit" in vs[0].message


def test_mapping_input_works() -> None:
    vs = diagnostics_verdicts(
        {"max_rhat": 1.0, "min_ess_bulk": 50.0, "min_ess_tail": 50.0, "divergences": 0}
    )
    assert [v.status for v in vs] == ["good", "bad", "good"]
