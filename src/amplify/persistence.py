"""Save and load a fitted :class:`~amplify.model.BoostModel`: a folder, never a pickle.

Layout of a saved model folder::

    config.json          format name, model schema version, amplify version, priors, sampler
    settings,
                         levels, fit summary, SHA-256 of the other files
    posterior.nc         the groups of the ArviZ DataTree, one NetCDF file each (NetCDF-3 64-bit
    offset,
    sample_stats.nc      written by scipy: no HDF5 library needed)
    observed_data.nc
    posts.parquet        the training post table (candidates for rankings)

Loading checks the format, the schema version (a file from another model version is refused with a
clear
message: refit) and the checksums (a truncated or edited file is reported as corrupt).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from amplify.errors import AmplifyError

if TYPE_CHECKING:
    from amplify.model.boost import BoostModel

FORMAT = "amplify-boost-model"
#: Bump when the saved posterior's variables or their meaning change.
SCHEMA_VERSION = 1
CONFIG = "config.json"
GROUPS = ("posterior", "sample_stats", "observed_data")
POSTS = "posts.parquet"


class ModelFileError(AmplifyError, ValueError):
    """A saved model cannot be read: missing, corrupt, or from another model version."""


def amplify_version() -> str:
    """Installed amplify version (``0+unknown`` when not installed as a package)."""
    try:
        return metadata.version("amplify")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in the project env
        return "0+unknown"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _netcdf3_safe(ds: xr.Dataset) -> xr.Dataset:
    """NetCDF-3 holds no 64-bit integers or objects: cast to int32/float64, drop objects."""
    out = ds.copy()
    drop = [v for v in out.data_vars if out[v].dtype == object]
    out = out.drop_vars(drop)
    for name in [*out.data_vars, *out.coords]:
        da = out[name]
        if (da.dtype.kind == "i" and da.dtype.itemsize > 4) or da.dtype.kind == "u":
            vals = np.asarray(da.values)
            small = vals.size == 0 or (vals.min() >= -(2**31) and vals.max() < 2**31)
            out[name] = da.astype(np.int32 if small else np.float64)
    out.attrs = _flat_attrs(out.attrs)
    for name in [*out.data_vars, *out.coords]:
        out[name].attrs = _flat_attrs(out[name].attrs)
        if out[name].dtype.kind in "UO":
            out[name] = out[name].astype(str)
            out[name].encoding = {"dtype": "S1", "_Encoding": "utf-8"}
    return out


def _flat_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes NetCDF-3 can store: numbers and strings (anything else as JSON text)."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if isinstance(v, bool | np.bool_):
            out[k] = int(v)
        elif isinstance(v, str | int | float | np.integer | np.floating):
            out[k] = v.item() if isinstance(v, np.generic) else v
        else:
            out[k] = json.dumps(_jsonable(v.tolist() if isinstance(v, np.ndarray) else v))
    return out


def _from_netcdf3(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_netcdf3_safe` where it matters: text back to ``str``."""
    for name in [*ds.data_vars, *ds.coords]:
        if ds[name].dtype == object:
            ds[name] = ds[name].astype(str)
    return ds


def save_model(model: BoostModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to the folder ``path`` (created if needed; model files replaced)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for group in GROUPS:
        if group in model.idata_.children:
            ds = _netcdf3_safe(model.idata_[group].to_dataset())
            ds.to_netcdf(folder / f"{group}.nc", engine="scipy", format="NETCDF3_64BIT")
            files.append(f"{group}.nc")
    posts = model.posts_.copy()
    posts.columns = [str(c) for c in posts.columns]
    posts.to_parquet(folder / POSTS, index=False)
    config: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "amplify_version": amplify_version(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "priors": model.priors_.model_dump(),
        "sampler": model.sampler_.model_dump(),
        "segments_arg": None if model.segments is None else list(model.segments),
        "levels": model.levels_.to_dict(),
        "log_k_center": model.log_k_center_,
        "max_spend": [float(x) for x in model.max_spend_],
        "fit_seconds": float(model.fit_seconds_),
        "diagnostics": _jsonable(model.diagnostics_.to_dict()),
        "files": {name: _sha256(folder / name) for name in (*files, POSTS)},
    }
    (folder / CONFIG).write_text(json.dumps(config, indent=2, allow_nan=True))
    return folder


def load_model(path: str | os.PathLike[str]) -> BoostModel:
    """Read a model folder written by :func:`save_model`.

    Raises
    ------
    ModelFileError
        When the folder or a file is missing, a file is corrupt (unreadable or checksum mismatch),
        or it was
        written by another model schema version.
    """
    from amplify.model.boost import BoostModel
    from amplify.model.diagnostics import Diagnostics
    from amplify.model.features import Levels
    from amplify.model.priors import Priors, SamplerConfig

    folder = Path(path)
    cfg_path = folder / CONFIG
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: not a saved model folder (save one with BoostModel.save)")
    if not cfg_path.is_file():
        raise ModelFileError(f"{folder}: {CONFIG} is missing; this is not a saved amplify model")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{cfg_path}: corrupt config ({err}); refit and save again") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{cfg_path}: not an amplify boost model config")
    version = config.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ModelFileError(
            f"{folder}: saved with model schema version {version} (amplify "
            f"{config.get('amplify_version', '?')}); this amplify ({amplify_version()}) reads "
            f"schema version {SCHEMA_VERSION}. Refit the model from the data and save it again."
        )
    for name, digest in config.get("files", {}).items():
        f = folder / name
        if not f.is_file():
            raise ModelFileError(f"{f}: missing from the saved model folder")
        if _sha256(f) != digest:
            raise ModelFileError(
                f"{f}: corrupt (its checksum does not match the one saved in {CONFIG}); "
                "the file was truncated or edited. Refit and save again."
            )
    try:
        groups = {}
        for group in GROUPS:
            f = folder / f"{group}.nc"
            if f.is_file():
                with xr.open_dataset(f, engine="scipy") as ds:
                    groups[group] = _from_netcdf3(ds.load())
        if "posterior" not in groups:
            raise ModelFileError(f"{folder}: posterior.nc is missing from the saved model folder")
        idata = xr.DataTree.from_dict(groups)
        posts = pd.read_parquet(folder / POSTS)
        priors = Priors(**config["priors"])
        sampler = SamplerConfig(**config["sampler"])
        levels = Levels.from_dict(config["levels"])
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{folder}: could not read the saved model ({err})") from err

    segs = config.get("segments_arg")
    model = BoostModel(priors=priors, sampler=sampler, segments=None if segs is None else segs)
    model.priors_ = priors
    model.sampler_ = sampler
    model.levels_ = levels
    model.platforms_ = levels.platforms
    model.formats_ = levels.formats
    model.segments_ = tuple(levels.segments)
    model.posts_ = posts
    model.log_k_center_ = float(config["log_k_center"])
    model.max_spend_ = np.asarray(config["max_spend"], dtype=float)
    model.fit_seconds_ = float(config.get("fit_seconds", float("nan")))
    model.idata_ = idata
    model.diagnostics_ = Diagnostics.from_dict(config["diagnostics"])
    return model


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
