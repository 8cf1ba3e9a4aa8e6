"""The fitted-model cache (amplify.ui.cache): keys, memory + disk, one fit under concurrency.

The model is a small JSON-serialisable stand-in fitted by a real (cheap) function: what is under
test is the cache, not the model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from amplify.ui.cache import ModelCache, data_fingerprint, model_key


def posts(n: int = 5, spend: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"post_id": [f"p{i}" for i in range(n)], "platform": "tiktok", "spend": spend}
    )


class Fitter:
    """A cheap, real fit (mean spend) that counts calls and can be slowed down."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(
        self, df: pd.DataFrame, settings: Mapping[str, Any], progress: Any
    ) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
        if progress is not None:
            progress("fitting", 0.5)
        time.sleep(self.delay)
        return {"mean_spend": float(df["spend"].mean()), "settings": dict(settings)}


def save(model: dict[str, Any], path: Path) -> None:
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps(model))


def load(path: Path) -> dict[str, Any]:
    return json.loads((path / "model.json").read_text())


def test_keys_depend_on_data_and_settings() -> None:
    a, b = posts(), posts(spend=11.0)
    assert data_fingerprint(a) == data_fingerprint(posts())
    assert data_fingerprint(a) != data_fingerprint(b)
    assert model_key(a, {"draws": 10}) == model_key(posts(), {"draws": 10})
    assert model_key(a, {"draws": 10}) != model_key(a, {"draws": 20})
    assert model_key(a, {"draws": 10}) != model_key(b, {"draws": 10})


def test_second_request_is_served_from_memory(tmp_path: Path) -> None:
    fit = Fitter()
    cache = ModelCache(tmp_path, fit=fit, save=save, load=load)
    seen: list[tuple[str, float]] = []
    e1 = cache.get_or_fit(posts(), {"draws": 10}, lambda s, f: seen.append((s, f)))
    e2 = cache.get_or_fit(posts(), {"draws": 10})
    assert e1 is e2
    assert fit.calls == 1
    assert seen == [("fitting", 0.5)]
    assert e1.model["mean_spend"] == 10.0


def test_restart_loads_from_disk_without_refitting(tmp_path: Path) -> None:
    fit = Fitter()
    ModelCache(tmp_path, fit=fit, save=save, load=load).get_or_fit(posts(), {"draws": 10})
    restarted = ModelCache(tmp_path, fit=fit, save=save, load=load)
    entry = restarted.get_or_fit(posts(), {"draws": 10})
    assert fit.calls == 1
    assert entry.from_disk
    assert entry.model["mean_spend"] == 10.0


def test_corrupt_save_is_refitted(tmp_path: Path) -> None:
    fit = Fitter()
    cache = ModelCache(tmp_path, fit=fit, save=save, load=load)
    key = cache.get_or_fit(posts(), {}).key
    (tmp_path / key / "model" / "model.json").write_text("{not json")
    fresh = ModelCache(tmp_path, fit=fit, save=save, load=load)
    assert fresh.get(key) is None
    fresh.get_or_fit(posts(), {})
    assert fit.calls == 2


def test_concurrent_sessions_share_one_fit(tmp_path: Path) -> None:
    fit = Fitter(delay=0.3)
    cache = ModelCache(tmp_path, fit=fit, save=save, load=load)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_fit(posts(), {"d": 1})))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fit.calls == 1
    assert len({id(r) for r in results}) == 1


def test_memo_computes_once_per_name(tmp_path: Path) -> None:
    cache = ModelCache(None, fit=Fitter())
    entry = cache.get_or_fit(posts(), {})
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    for _ in range(3):
        assert entry.memo("x", compute) == 42
    assert calls == [1]


def test_lru_keeps_at_most_max_in_memory(tmp_path: Path) -> None:
    fit = Fitter()
    cache = ModelCache(None, max_in_memory=2, fit=fit)
    keys = [cache.get_or_fit(posts(spend=s), {}).key for s in (1.0, 2.0, 3.0)]
    assert cache.get(keys[0]) is None  # evicted, and no disk to reload it from
    assert cache.get(keys[2]) is not None


@pytest.mark.parametrize("bad", [RuntimeError("boom")])
def test_failed_fit_is_not_cached(tmp_path: Path, bad: Exception) -> None:
    def failing(df: pd.DataFrame, s: Mapping[str, Any], p: Any) -> Any:
        raise bad

    cache = ModelCache(tmp_path, fit=failing, save=save, load=load)
    with pytest.raises(RuntimeError, match="boom"):
        cache.get_or_fit(posts(), {})
    assert cache.get(model_key(posts(), {})) is None
