"""The fitted-model cache behind the app: fit once per (data, settings), share, persist.

``app.py`` keeps one :class:`ModelCache` per server process (created by ``st.cache_resource``), so
every browser session shares fitted models without sharing anything mutable of its own. Keys are a
hash of the post table and the fit settings; a fitted model is also saved to disk (NetCDF + JSON via
the model's own ``save``/``load``, never pickle), so a restarted server does not refit.

Thread-safe: a lock per key serialises fits of the same data (a second session asking for a model
that is being fitted waits for it instead of fitting again); fits of different data may run side by
side. Derived, read-only results of a fitted model (response curves, rankings) are memoised on the
:class:`FittedEntry`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
FitFn = Callable[[pd.DataFrame, Mapping[str, Any], Progress | None], Any]
SaveFn = Callable[[Any, Path], None]
LoadFn = Callable[[Path], Any]

#: Bump when the cached format changes so old entries are ignored.
CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``$AMPLIFY_CACHE_DIR``, else ``$XDG_CACHE_HOME/amplify/models`` (``~/.cache`` by default)."""
    env = os.environ.get("AMPLIFY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "amplify" / "models"


def data_fingerprint(posts: pd.DataFrame) -> str:
    """A stable hash of a post table's contents, column names and dtypes (row order matters)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in posts.columns]).encode())
    h.update(json.dumps([str(t) for t in posts.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(posts, index=False).to_numpy().tobytes())
    return h.hexdigest()


def key_for(fingerprint: str, settings: Mapping[str, Any]) -> str:
    """Cache key of a fit from the data's :func:`data_fingerprint` and the settings (24 hex)."""
    h = hashlib.sha256()
    h.update(CACHE_VERSION.encode())
    h.update(fingerprint.encode())
    h.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def model_key(posts: pd.DataFrame, settings: Mapping[str, Any]) -> str:
    """Cache key of a fit: data fingerprint + JSON of the settings + cache version."""
    return key_for(data_fingerprint(posts), settings)


@dataclass
class FittedEntry:
    """A fitted model shared by all sessions (read-only), plus memoised results derived from it."""

    key: str
    model: Any
    from_disk: bool = False
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, name: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``name`` (thread-safe); later calls return the same object."""
        with self._lock:
            if name not in self._memo:
                self._memo[name] = compute()
            return self._memo[name]


def _default_fit(
    posts: pd.DataFrame, settings: Mapping[str, Any], progress: Progress | None
) -> Any:
    from amplify.model import BoostModel, SamplerConfig

    return BoostModel(sampler=SamplerConfig(**dict(settings))).fit(posts, progress=progress)


def _default_save(model: Any, path: Path) -> None:
    model.save(path)


def _default_load(path: Path) -> Any:
    from amplify.model import BoostModel

    return BoostModel.load(path)


class ModelCache:
    """In-memory LRU of fitted models, backed by a directory of saved fits.

    Parameters
    ----------
    directory
        Where fits are saved (one sub-directory per key); ``None`` keeps them in memory only.
    max_in_memory
        How many fitted models stay loaded.
    fit, save, load
        How to fit a model from ``(posts, settings, progress)``, save it to a directory and load it
        back. Default: :class:`amplify.model.BoostModel` with ``SamplerConfig(**settings)``.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        max_in_memory: int = 4,
        fit: FitFn = _default_fit,
        save: SaveFn = _default_save,
        load: LoadFn = _default_load,
    ) -> None:
        self.directory = None if directory is None else Path(directory)
        self.max_in_memory = max_in_memory
        self._fit = fit
        self._save = save
        self._load = load
        self._entries: OrderedDict[str, FittedEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.fits = 0  #: how many fits this cache ran (for tests and the sidebar)

    # --- lookup -----------------------------------------------------------------------------------
    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key

    def _remember(self, entry: FittedEntry) -> FittedEntry:
        with self._lock:
            self._entries[entry.key] = entry
            self._entries.move_to_end(entry.key)
            while len(self._entries) > self.max_in_memory:
                self._entries.popitem(last=False)
        return entry

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> FittedEntry | None:
        """The fitted entry for ``key`` from memory or disk; ``None`` when never fitted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        path = self._path(key)
        if path is None or not (path / "COMPLETE").exists():
            return None
        with self._key_lock(key):
            with self._lock:  # another thread may have loaded it meanwhile
                if key in self._entries:
                    return self._entries[key]
            try:
                model = self._load(path / "model")
            except Exception:  # a corrupt or outdated save: forget it, the caller refits
                log.warning(
                    "could not load cached model %s; it will be refitted", path, exc_info=True
                )
                shutil.rmtree(path, ignore_errors=True)
                return None
            return self._remember(FittedEntry(key, model, from_disk=True))

    def get_or_fit(
        self,
        posts: pd.DataFrame,
        settings: Mapping[str, Any],
        progress: Progress | None = None,
    ) -> FittedEntry:
        """The fitted model for ``(posts, settings)``: from memory, from disk, or fitted now."""
        key = model_key(posts, settings)
        entry = self.get(key)
        if entry is not None:
            return entry
        with self._key_lock(key):
            with self._lock:
                if key in self._entries:  # fitted by another session while we waited
                    return self._entries[key]
            model = self._fit(posts, settings, progress)
            with self._lock:
                self.fits += 1
            self._persist(key, model)
            return self._remember(FittedEntry(key, model))

    def _persist(self, key: str, model: Any) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=path.parent))
            self._save(model, tmp / "model")
            (tmp / "COMPLETE").write_text("ok\n")
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)  # atomic: another process never sees a half-written fit
        except (
            Exception
        ):  # persistence is a convenience: the fitted model is still served from memory
            log.warning("could not save fitted model %s to %s", key, path, exc_info=True)
            if "tmp" in locals():
                shutil.rmtree(tmp, ignore_errors=True)

    def clear_memory(self) -> None:
        """Forget the in-memory entries (saved fits stay on disk)."""
        with self._lock:
            self._entries.clear()
