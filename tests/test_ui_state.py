"""Session keys and fit settings of the app (amplify.ui.state)."""

from __future__ import annotations

from amplify.ui import state as S


def test_init_session_fills_defaults_without_overwriting() -> None:
    state: dict[str, object] = {S.DATASET_NAME: "mine"}
    S.init_session(state)
    assert state[S.DATASET_NAME] == "mine"
    assert state[S.POSTS] is None
    assert state[S.SCENARIOS] == []
    other: dict[str, object] = {}
    S.init_session(other)
    assert other[S.SCENARIOS] is not state[S.SCENARIOS]  # no list shared between sessions


def test_widget_keys_are_unique() -> None:
    keys = [v for k, v in vars(S).items() if k.isupper() and isinstance(v, str)]
    keys += S.platform_widget_keys()
    assert len(keys) == len(set(keys))


def test_fit_settings_fast_and_full_and_the_test_switch() -> None:
    fast, full = S.fit_settings(True, {}), S.fit_settings(False, {})
    assert fast["method"] != "nuts"
    assert full["method"] == "nuts"
    assert full["chains"] >= 2
    tiny_fast = S.fit_settings(True, {S.FAST_FIT_ENV: "1"})
    tiny_full = S.fit_settings(False, {S.FAST_FIT_ENV: "1"})
    assert tiny_fast["draws"] < fast["draws"]
    assert tiny_full["draws"] < full["draws"]
    assert S.fit_settings(True, {S.FAST_FIT_ENV: "0"}) == fast
