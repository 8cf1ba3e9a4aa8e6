"""The bundled sample account: a simulated post history with its known truth.

``data/sample_posts.csv`` (400 posts over Facebook, Instagram and TikTok, 35% boosted, with an
``audience`` segment column) and ``data/sample_truth.json`` (the true parameters and each post's
latent truth) are written by ``scripts/make_sample_data.py`` from :class:`amplify.simulate.World`
with the fixed seed :data:`SAMPLE_SEED`. :func:`load_sample` reads the CSV (regenerating it,
identically, when the file is missing) and :func:`sample_truth` returns the truth behind it.
``data/README.md`` describes every column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amplify import constants as C

if TYPE_CHECKING:
    from amplify.simulate import WorldTruth

__all__ = [
    "SAMPLE_SEED",
    "load_sample",
    "make_sample",
    "sample_path",
    "sample_post_truth",
    "sample_truth",
    "sample_truth_path",
    "to_csv_text",
    "truth_json_text",
    "write_sample",
]

#: Seed of the bundled sample account (truth jitter and draws).
SAMPLE_SEED = 20261121
#: How the sample was drawn: :meth:`amplify.simulate.World.posts` arguments.
SAMPLE_SPEC: dict[str, Any] = {
    "n_posts": 400,
    "boosted_share": 0.35,
    "start": "2026-01-01",
    "days": 180,
    "organic_missing_share": 0.0,
}
_POSTS_FILE = "sample_posts.csv"
_TRUTH_FILE = "sample_truth.json"
_COUNT_COLUMNS = C.COUNT_COLUMNS


def _data_dir() -> Path:
    # src/amplify/data/sample.py -> repository root / data
    return Path(__file__).resolve().parents[3] / "data"


def sample_path() -> Path:
    """Path of the bundled ``data/sample_posts.csv`` (it may be missing in a non-editable
    install)."""
    return _data_dir() / _POSTS_FILE


def sample_truth_path() -> Path:
    """Path of the bundled ``data/sample_truth.json``."""
    return _data_dir() / _TRUTH_FILE


def make_sample() -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw the sample account from the simulator with the fixed seed.

    Returns
    -------
    posts : pandas.DataFrame
        The post table (canonical columns, then ``audience``).
    truth : dict
        JSON-able: ``seed``, ``spec`` (the :meth:`~amplify.simulate.World.posts` arguments),
        ``truth`` (:meth:`~amplify.simulate.WorldTruth.to_dict`) and ``posts`` (each post's latent
        truth).
    """
    from amplify.simulate import World, default_truth

    truth = default_truth(SAMPLE_SEED)
    world = World(truth, seed=SAMPLE_SEED)
    spec = dict(SAMPLE_SPEC)
    posts = world.posts(int(spec.pop("n_posts")), **spec)
    post_truth = world.post_truth()
    doc = {
        "seed": SAMPLE_SEED,
        "spec": dict(SAMPLE_SPEC),
        "truth": truth.to_dict(),
        "posts": [
            {
                "post_id": str(r["post_id"]),
                "platform": str(r["platform"]),
                "resonance": round(float(r["resonance"]), 6),
                "ctr_u": round(float(r["ctr_u"]), 6),
                "audience": str(r["audience"]),
                "paid_ctr": round(float(r["paid_ctr"]), 8),
                "organic_er": round(float(r["organic_er"]), 8),
            }
            for r in post_truth.to_dict(orient="records")
        ],
    }
    return posts, doc


def to_csv_text(posts: pd.DataFrame) -> str:
    """The CSV text of a post table as bundled: whole counts without ``.0``, money in cents,
    minutes."""
    out = posts.copy()
    for col in _COUNT_COLUMNS:
        if col in out.columns:
            out[col] = out[col].round().astype("Int64")
    out[C.POSTED_AT] = pd.to_datetime(out[C.POSTED_AT]).dt.strftime("%Y-%m-%d %H:%M")
    return str(out.to_csv(index=False, float_format="%.2f", lineterminator="\n"))


def write_sample(directory: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``sample_posts.csv`` and ``sample_truth.json`` into ``directory`` (default: the repo's
    ``data/``).

    Returns the two paths. The output depends only on :data:`SAMPLE_SEED` and the simulator.
    """
    folder = Path(directory) if directory is not None else _data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    posts, doc = make_sample()
    csv_path = folder / _POSTS_FILE
    json_path = folder / _TRUTH_FILE
    csv_path.write_text(to_csv_text(posts), encoding="utf-8")
    json_path.write_text(truth_json_text(doc), encoding="utf-8")
    return csv_path, json_path


def truth_json_text(doc: dict[str, Any]) -> str:
    """The truth document as bundled: indented, one line per post."""
    head = json.dumps({k: v for k, v in doc.items() if k != "posts"}, indent=1)
    posts = ",\n  ".join(json.dumps(p) for p in doc.get("posts", []))
    return head[:-2] + ',\n "posts": [\n  ' + posts + "\n ]\n}\n"


def load_sample() -> pd.DataFrame:
    """The bundled sample account as a validated canonical post table (plus ``audience``).

    Reads ``data/sample_posts.csv`` through :func:`amplify.data.load`. When the file is missing
    (e.g. a non-editable install) it is regenerated from the simulator with the fixed seed — the
    same rows — and written back when the folder is writable.
    """
    path = sample_path()
    if not path.exists():
        posts, doc = make_sample()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(to_csv_text(posts), encoding="utf-8")
            if not sample_truth_path().exists():
                sample_truth_path().write_text(truth_json_text(doc), encoding="utf-8")
        except OSError:
            # read-only install: hand back the regenerated table, rounded exactly as the file would
            # be
            return _read(None, to_csv_text(posts))
    return _read(path, None)


def _read(path: Path | None, text: str | None) -> pd.DataFrame:
    import io

    try:
        from amplify.data import load
    except ImportError:  # pragma: no cover - the loader ships with the package
        load = None  # type: ignore[assignment]
    if load is not None:
        if path is not None:
            return load(path)
        return load(pd.read_csv(io.StringIO(text or "")))
    frame = pd.read_csv(path if path is not None else io.StringIO(text or ""))
    for col in C.NUMERIC_COLUMNS:
        frame[col] = frame[col].astype("float64")
    frame[C.POSTED_AT] = pd.to_datetime(frame[C.POSTED_AT]).astype("datetime64[ns]")
    frame[C.BOOSTED] = frame[C.BOOSTED].astype(bool)
    frame[C.POST_ID] = frame[C.POST_ID].astype(str)
    return frame


def sample_truth() -> WorldTruth:
    """The :class:`~amplify.simulate.WorldTruth` behind the sample account.

    Read from ``data/sample_truth.json`` when present, else rebuilt from :data:`SAMPLE_SEED`.
    """
    from amplify.simulate import WorldTruth, default_truth

    path = sample_truth_path()
    if path.exists():
        return WorldTruth.from_dict(json.loads(path.read_text(encoding="utf-8"))["truth"])
    return default_truth(SAMPLE_SEED)


def sample_post_truth() -> pd.DataFrame:
    """Each sample post's latent truth (``post_id, platform, resonance, ctr_u, audience, paid_ctr,
    organic_er``)."""
    path = sample_truth_path()
    doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else make_sample()[1]
    frame = pd.DataFrame(doc["posts"])
    frame["resonance"] = frame["resonance"].astype(np.float64)
    return frame
