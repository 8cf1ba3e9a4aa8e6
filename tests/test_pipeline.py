"""Tests of amplify.pipeline: settings files, atomic writes, fit → plan, one account end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplify.pipeline import (
    RecommendSettings,
    SettingsError,
    atomic_write_dir,
    atomic_write_text,
    build_constraints,
    load_settings,
    make_settings,
    read_previous_plan,
)

# --- settings files ------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_and_json_settings_are_the_same(tmp_path: Path) -> None:
    doc = {
        "budget": 5000,
        "platforms": {"FB": {"min": 500}, "Tik Tok": {"lock": 1000}, "insta": {"max": 3000}},
        "max_change": 0.2,
        "target_cpa": 25,
        "level": "platform",
        "policy": "greedy",
        "sampler": {"method": "advi", "draws": 200},
        "seed": 7,
    }
    import yaml

    y = load_settings(_write(tmp_path / "s.yaml", yaml.safe_dump(doc)))
    j = load_settings(_write(tmp_path / "s.json", json.dumps(doc)))
    assert y == j
    assert set(y.platforms) == {"facebook", "tiktok", "instagram"}
    assert y.platforms["tiktok"].lock == 1000
    assert (y.sampler.method, y.sampler.draws, y.sampler.tune) == ("advi", 200, 1000)
    assert (y.seed, y.policy) == (7, "greedy")


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("budgt: 5000\n", "budgt", "did you mean 'budget'?"),
        ("budget: 5\nsampler:\n  draw: 100\n", "sampler.draw", "did you mean 'draws'?"),
        (
            "budget: 5\nplatforms:\n  fb: {mni: 10}\n",
            "platforms.facebook.mni",
            "did you mean 'min'?",
        ),
        ("budget: 5\nplatforms:\n  tiktk: {min: 1}\n", "platforms", "did you mean 'tiktok'?"),
        ("budget: 5\nlevel: posts\n", "level", "'platform' or 'post'"),
    ],
)
def test_bad_keys_name_the_file_the_key_and_a_hint(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    path = _write(tmp_path / "settings.yaml", text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    msg = str(info.value)
    assert f"{path}: {where}:" in msg
    assert hint in msg


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml", "budget: -1\nsampler: {draws: 1, chians: 2}\nmax_change: 3\n"
    )
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 4, lines
    assert any("sampler.chians: unknown key 'chians': did you mean 'chains'?" in x for x in lines)
    assert any(": budget:" in x for x in lines)


def test_unparseable_files_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"s\.yaml: line 3, column 1: not valid YAML"):
        load_settings(_write(tmp_path / "s.yaml", "budget: 5\nplatforms: {fb: {min: 1}\n"))
    with pytest.raises(SettingsError, match=r"s\.json: line 1, column \d+: not valid JSON"):
        load_settings(_write(tmp_path / "s.json", '{"budget": 5,}'))
    with pytest.raises(SettingsError, match="expected a mapping"):
        load_settings(_write(tmp_path / "l.yaml", "- 1\n- 2\n"))
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.yaml")


def test_constraint_sums_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="above the budget"):
        load_settings(
            _write(tmp_path / "s.yaml", "budget: 100\nplatforms: {fb: {lock: 80}, ig: {min: 30}}\n")
        )
    with pytest.raises(SettingsError, match="below min"):
        load_settings(
            _write(tmp_path / "t.yaml", "budget: 100\nplatforms: {fb: {min: 50, max: 20}}\n")
        )


def test_flags_override_the_file_and_merge_blocks(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml",
        "budget: 5000\nplatforms: {fb: {min: 100}}\nsampler: {draws: 300, chains: 4}\nseed: 1\n",
    )
    s = load_settings(
        path,
        budget=800,
        platforms={"FB": {"max": 400}, "ig": {"lock": 50}},
        sampler={"draws": 50, "tune": None},
        seed=None,
    )
    assert s.budget == 800
    assert (s.platforms["facebook"].min, s.platforms["facebook"].max) == (100, 400)
    assert s.platforms["instagram"].lock == 50
    assert (s.sampler.draws, s.sampler.chains, s.sampler.tune) == (50, 4, 1000)
    assert s.seed == 1  # None = flag not given
    with pytest.raises(SettingsError, match=r"command-line flags:\nsettings: budget:"):
        load_settings(path, budget=-5)
    with pytest.raises(SettingsError, match="unknown platform 'snapchat'"):
        make_settings(None, platforms={"snapchat": {"max": 1}})


def test_previous_plan_path_is_relative_to_the_settings_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    plan = pd.DataFrame(
        {"platform": ["facebook", "instagram", "tiktok"], "spend": [10.0, 20.0, 30.0]}
    )
    plan.to_csv(sub / "yesterday.csv", index=False)
    s = load_settings(
        _write(sub / "s.yaml", "budget: 60\nprevious: yesterday.csv\nmax_change: 0.1\n")
    )
    assert s.previous == sub / "yesterday.csv"
    assert read_previous_plan(s.previous) == {"facebook": 10.0, "instagram": 20.0, "tiktok": 30.0}
    # the JSON plan files the CLI writes carry a per_platform table
    doc = {"per_platform": plan.to_dict(orient="records"), "account": "a"}
    _write(sub / "y.json", json.dumps(doc))
    assert read_previous_plan(sub / "y.json")["tiktok"] == 30.0
    _write(sub / "bad.csv", "arm,amount\nfacebook,3\n")
    with pytest.raises(SettingsError, match="needs columns 'platform' and 'spend'"):
        read_previous_plan(sub / "bad.csv")


def test_settings_are_picklable_for_worker_processes() -> None:
    import pickle

    s = make_settings(None, budget=100, platforms={"fb": {"min": 10}}, sampler={"method": "advi"})
    assert pickle.loads(pickle.dumps(s)) == s


def test_build_constraints_needs_a_budget() -> None:
    with pytest.raises(SettingsError, match="budget: missing"):
        build_constraints(RecommendSettings())


# --- atomic writes -------------------------------------------------------------------------------


def test_atomic_write_replaces_whole_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "plan.csv"
    atomic_write_text(target, "a,b\n1,2\n")
    atomic_write_text(target, "a,b\n3,4\n")
    assert target.read_text() == "a,b\n3,4\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.csv"]


def test_atomic_dir_keeps_the_old_folder_when_filling_fails(tmp_path: Path) -> None:
    target = tmp_path / "model"

    def good(d: Path) -> None:
        (d / "config.json").write_text("{}")

    def bad(d: Path) -> None:
        (d / "half.nc").write_text("partial")
        raise RuntimeError("disk full")

    atomic_write_dir(target, good)
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_dir(target, bad)
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# --- plans from curves (a fitted model stands in as its curves; the model is not under test) ---


class CurvesModel:
    """The part of a fitted BoostModel that planning reads: curves and diagnostics."""

    def __init__(self, seed: int = 0) -> None:
        from amplify.testing import synthetic_curves

        self.curves = synthetic_curves(3, n_draws=300, seed=seed)
        self.post = synthetic_curves(9, n_draws=300, seed=seed)
        self.diagnostics_ = {"ok": True}

    def platform_curves(self, n_boosts: object = 1, *, max_draws: int | None = None, seed: int = 0):
        return self.curves

    def post_curves(self, posts: object = None, *, max_draws: int | None = None, seed: int = 0):
        return self.post


def test_recommend_respects_budget_and_constraints_and_is_seeded() -> None:
    from amplify.pipeline import recommend

    model = CurvesModel()
    s = make_settings(
        None, budget=3000, platforms={"tiktok": {"lock": 500}, "FB": {"max": 900}}, seed=3
    )
    plan = recommend(model, s)  # type: ignore[arg-type]
    spend = plan.spend_by_platform
    assert sum(spend.values()) == pytest.approx(3000)
    assert spend["tiktok"] == pytest.approx(500)
    assert spend["facebook"] <= 900 + 1e-6
    again = recommend(model, s)  # type: ignore[arg-type]
    np.testing.assert_array_equal(plan.spend, again.spend)
    greedy = recommend(model, s.with_overrides(policy="uniform"))  # type: ignore[arg-type]
    assert greedy.policy != plan.policy


def test_recommend_moves_at_most_max_change_from_previous(tmp_path: Path) -> None:
    from amplify.pipeline import recommend, write_plan

    model = CurvesModel()
    first = recommend(model, make_settings(None, budget=3000, policy="greedy"))  # type: ignore[arg-type]
    prev = write_plan(first, tmp_path / "yesterday.json")
    assert read_previous_plan(prev) == pytest.approx(first.spend_by_platform)
    shifted = {"facebook": 1000.0, "instagram": 1000.0, "tiktok": 1000.0}
    s = make_settings(None, budget=3000, previous=shifted, max_change=0.05, policy="greedy")
    plan = recommend(model, s)  # type: ignore[arg-type]
    for p, v in plan.spend_by_platform.items():
        assert abs(v - shifted[p]) <= 0.05 * 3000 + 1e-6


def test_recommend_post_level_and_unknown_platforms() -> None:
    from amplify.pipeline import recommend

    model = CurvesModel()
    plan = recommend(model, make_settings(None, budget=2000, level="post"))  # type: ignore[arg-type]
    assert len(plan.arms) == 9
    assert ":" in plan.arms[0]
    assert plan.spend.sum() == pytest.approx(2000)
    model.curves = model.curves.take_arms(["facebook", "instagram"])
    with pytest.raises(SettingsError, match="tiktok not in the data"):
        recommend(model, make_settings(None, budget=100, platforms={"tiktok": {"max": 5}}))  # type: ignore[arg-type]


def test_plan_files_are_whole_csv_or_json(tmp_path: Path) -> None:
    from amplify.pipeline import recommend, write_plan

    plan = recommend(CurvesModel(), make_settings(None, budget=1000))  # type: ignore[arg-type]
    csv = pd.read_csv(write_plan(plan, tmp_path / "p.csv"))
    assert {"arm", "platform", "spend", "conv_mean", "cpa_mean"} <= set(csv.columns)
    assert csv["spend"].sum() == pytest.approx(1000)
    doc = json.loads(write_plan(plan, tmp_path / "p.json", extra={"account": "x"}).read_text())
    assert doc["account"] == "x"
    assert doc["budget"] == 1000
    with pytest.raises(SettingsError, match=r"\.csv or \.json"):
        write_plan(plan, tmp_path / "p.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.json"]


def test_what_if_compares_scenarios_with_the_baseline(tmp_path: Path) -> None:
    from amplify.pipeline import load_scenarios, what_if

    path = _write(
        tmp_path / "what.yaml",
        "budget: 3000\n"
        "scenarios:\n"
        "  - name: cut tiktok\n    bounds: {tiktok: {max: 100}}\n"
        "  - name: IG CPM +50%\n    shocks: {IG: {cpm: 0.5}}\n"
        "  - name: double\n    budget: 6000\n",
    )
    scenarios, baseline = load_scenarios(path)
    assert [s.name for s in scenarios] == ["cut tiktok", "IG CPM +50%", "double"]
    settings = make_settings(None, **baseline)
    table = what_if(CurvesModel(), settings, scenarios)  # type: ignore[arg-type]
    total = table[table["platform"] == "total"].set_index("scenario")
    assert list(total.index) == ["baseline", "cut tiktok", "IG CPM +50%", "double"]
    assert total.loc["double", "conv_mean"] > total.loc["baseline", "conv_mean"]
    assert total.loc["IG CPM +50%", "conv_mean"] < total.loc["baseline", "conv_mean"]
    tiktok = table[(table["platform"] == "tiktok") & (table["scenario"] == "cut tiktok")]
    assert float(tiktok["spend"].iloc[0]) <= 100 + 1e-6
    bad = _write(
        tmp_path / "bad.yaml",
        "scenarios:\n  - name: snap\n    shocks: {all: {cpm: 0.1}}\n    budgte: 5\n",
    )
    with pytest.raises(
        SettingsError,
        match=r"scenario 1 \(snap\): budgte: unknown key 'budgte': did you mean 'budget'\?",
    ):
        load_scenarios(bad)
    with pytest.raises(SettingsError, match="unknown key 'budgt'"):
        load_scenarios(
            _write(tmp_path / "b2.yaml", "budgt: 5\nscenarios: [{name: a, budget: 3}]\n")
        )
    with pytest.raises(SettingsError, match="unique"):
        load_scenarios(
            _write(tmp_path / "b3.yaml", "[{name: a, budget: 3}, {name: a, budget: 4}]\n")
        )
