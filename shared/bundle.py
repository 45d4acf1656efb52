"""The model bundle: a folder holding ``model.onnx`` and ``manifest.json``, read and verified.

The trainer writes bundles (``trainer.export``); inference and the backtest only
read them, through this module, which needs neither torch nor onnxruntime.

Layout::

    <bundle>/model.onnx       the encoder: windows (batch, window, F) -> latent (batch, latent)
    <bundle>/manifest.json    everything needed to feed it and to judge it (see Manifest)

A folder of bundles (walk-forward training) holds one bundle per retrain date,
``<models>/<YYYY-MM-DD>/``; :func:`find_bundle` picks the one to use as of a date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.config import FeatureSettings
from shared.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.onnx"
#: Names of the encoder graph's input and output, written by the exporter and
#: recorded in every manifest.
INPUT_NAME = "windows"
OUTPUT_NAME = "latent"


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` holds.

    Attributes
    ----------
    schema_version : int
        Layout version of this manifest; readers refuse versions they do not know.
    created : str
        ISO 8601 UTC creation time.
    feature_names : tuple of str
        Feature order of the last input axis.
    feature_params : dict
        ``shared.features.feature_params`` of the training config (names and periods).
    window : int
        Days per input window.
    latent : int
        Size of the output embedding.
    scaler : dict
        ``shared.scaling.Scaler.to_dict()`` fit on the training period.
    train_start, train_end : str
        ISO dates bounding the END days of the windows the model saw (training and
        validation together). No data after ``train_end`` was used.
    universe : tuple of str
        Tickers whose prices were used.
    losses : dict
        ``train``, ``val``, ``naive_train``, ``naive_val`` (MSE on scaled features),
        ``best_epoch``, ``epochs_run``.
    model_sha256 : str
        Hex sha256 of ``model.onnx``.
    input_name, output_name : str
        ONNX graph input (``windows``) and output (``latent``) names.
    opset : int
        ONNX opset of ``model.onnx``.
    versions : dict
        Library versions at training time (torch, onnx, onnxruntime, numpy, deepquant).
    settings : dict
        The ``model`` and ``train`` config sections used, for the record.
    extra : dict
        Anything else (window counts, timings, device); readers ignore it.
    regime : dict
        The market-regime model fitted with the bundle
        (``shared.regime.RegimeModel.to_dict``); empty when the layer was off.
    members : list of dict
        A seed ensemble's other encoders (``[train] seeds`` > 1): each one's
        ``file`` (``model_<k>.onnx`` beside ``model.onnx``), ``sha256``,
        ``seed`` and ``losses``; empty for one model.
    """

    feature_names: tuple[str, ...]
    feature_params: dict[str, Any]
    window: int
    latent: int
    scaler: dict[str, Any]
    train_start: str
    train_end: str
    universe: tuple[str, ...]
    losses: dict[str, Any]
    model_sha256: str
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    opset: int = 17
    versions: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    regime: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def train_end_date(self) -> dt.date:
        return dt.date.fromisoformat(self.train_end)

    @property
    def train_start_date(self) -> dt.date:
        return dt.date.fromisoformat(self.train_start)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["feature_names"] = list(self.feature_names)
        data["universe"] = list(self.universe)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Build from parsed JSON; ``ValueError`` naming the first bad or missing field."""
        if not isinstance(data, dict):
            raise ValueError("manifest is not a JSON object")
        known = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        missing = sorted(required - data.keys())
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["feature_names"] = tuple(kwargs["feature_names"])
        kwargs["universe"] = tuple(kwargs["universe"])
        for name in ("window", "latent", "opset", "schema_version"):
            if name in kwargs and not isinstance(kwargs[name], int):
                raise ValueError(f"field {name!r} is not an integer")
        for name in ("train_start", "train_end"):
            try:
                dt.date.fromisoformat(kwargs[name])
            except (TypeError, ValueError):
                raise ValueError(f"field {name!r} is not an ISO date") from None
        return cls(**kwargs)


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk."""

    path: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_NAME

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    @property
    def member_paths(self) -> list[Path]:
        """Every encoder of the bundle: ``model.onnx``, then a seed ensemble's others."""
        return [self.model_path, *(self.path / m["file"] for m in self.manifest.members)]

    @property
    def encoder_key(self) -> str:
        """What the bundle's embeddings depend on: the sha256 of every encoder it holds."""
        return "+".join([self.manifest.model_sha256, *(m["sha256"] for m in self.manifest.members)])


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_bundle(path: Path) -> bool:
    """True when ``path`` is a folder with a ``manifest.json`` (not yet verified)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def read_manifest(path: str | Path) -> Manifest:
    """Parse ``<path>/manifest.json`` without checking the model file.

    Raises
    ------
    BundleError
        The folder or manifest is missing, not valid JSON, of an unknown schema
        version, or lacks a field.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle {path}: not found (expected a folder)")
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"model bundle {path}: {MANIFEST_NAME} is missing")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(
            f"model bundle {path}: {MANIFEST_NAME} is not valid JSON ({err})"
        ) from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"model bundle {path}: unknown manifest schema version {version!r} "
            f"(this deepquant reads {SCHEMA_VERSION})"
        )
    try:
        return Manifest.from_dict(raw)
    except (ValueError, TypeError, KeyError) as err:
        raise BundleError(f"model bundle {path}: {MANIFEST_NAME} is malformed ({err})") from None


def check_features(manifest: Manifest, features: FeatureSettings, where: Path) -> None:
    """Raise BundleError if the bundle's features differ from the configured ones."""
    from shared.features import feature_params  # polars; only needed for this check

    if manifest.window != features.window:
        raise BundleError(
            f"model bundle {where}: trained on {manifest.window}-day windows, "
            f"config [features] window is {features.window}"
        )
    expected = feature_params(features)
    got = manifest.feature_params
    for key in sorted(expected.keys() | got.keys()):
        if expected.get(key) != got.get(key):
            raise BundleError(
                f"model bundle {where}: feature {key!r} is {got.get(key)!r} in the bundle, "
                f"{expected.get(key)!r} in the config"
            )
    if list(manifest.feature_names) != list(expected.get("names", manifest.feature_names)):
        raise BundleError(
            f"model bundle {where}: feature names {list(manifest.feature_names)} "
            f"differ from {expected.get('names')}"
        )


def load_bundle(path: str | Path, *, features: FeatureSettings | None = None) -> Bundle:
    """Read and verify a bundle.

    Parameters
    ----------
    path : path
        The bundle folder.
    features : FeatureSettings, optional
        When given, the bundle's features (names, periods, window) must match.

    Raises
    ------
    BundleError
        One line naming the bundle and the problem: folder or file missing,
        manifest not JSON, unknown schema, checksum mismatch, feature mismatch.
    """
    path = Path(path)
    manifest = read_manifest(path)
    model = path / MODEL_NAME
    if not model.is_file():
        raise BundleError(f"model bundle {path}: {MODEL_NAME} is missing")
    digest = sha256_file(model)
    if digest != manifest.model_sha256:
        raise BundleError(
            f"model bundle {path}: {MODEL_NAME} checksum mismatch (sha256 {digest[:12]}..., "
            f"manifest says {str(manifest.model_sha256)[:12]}...): the file is corrupt or replaced"
        )
    for member in manifest.members:
        file = path / str(member.get("file", ""))
        if not file.is_file() or sha256_file(file) != member.get("sha256"):
            raise BundleError(
                f"model bundle {path}: ensemble member {member.get('file')} is missing or does "
                "not match its checksum"
            )
    if features is not None:
        check_features(manifest, features, path)
    return Bundle(path, manifest)


def list_bundles(models_dir: str | Path) -> list[Bundle]:
    """Verified bundles in the sub-folders of ``models_dir``, oldest training end first.

    Sub-folders without a ``manifest.json`` are ignored, and so are hidden ones
    (a training killed while exporting leaves its staging folder, hidden, beside
    the bundles); one that has a manifest but fails verification raises, rather
    than silently falling back to an older model.
    """
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise BundleError(f"models folder {models_dir}: not found")
    folders = [p for p in sorted(models_dir.iterdir()) if not p.name.startswith(".")]
    bundles = [load_bundle(p) for p in folders if is_bundle(p)]
    return sorted(bundles, key=lambda b: (b.manifest.train_end, b.path.name))


def find_bundle(
    models_dir: str | Path,
    asof: dt.date,
    *,
    features: FeatureSettings | None = None,
    bundles: Sequence[Bundle] | None = None,
) -> Bundle:
    """The bundle to use on ``asof``.

    If ``models_dir`` is itself a bundle it is returned as is, whatever its
    training dates: the caller asked for that model and decides (the backtest
    warns when it was trained on data after a rebalance date). Otherwise, among
    its sub-folder bundles, the one with the latest training end date on or
    before ``asof``: a model trained after ``asof``'s close on prices up to it
    sees nothing the job on ``asof`` could not.

    ``bundles``: the folder's :func:`list_bundles`, when the caller asks for
    many dates (each listing verifies every model's checksum).

    Raises
    ------
    BundleError
        No bundle there, none trained on or before ``asof``, or the chosen one is broken.
    """
    models_dir = Path(models_dir)
    if bundles is None:
        if is_bundle(models_dir):
            return load_bundle(models_dir, features=features)
        bundles = list_bundles(models_dir)
    if not bundles:
        raise BundleError(f"models folder {models_dir}: no model bundle in it")
    usable = [b for b in bundles if b.manifest.train_end_date <= asof]
    if not usable:
        first = bundles[0].manifest.train_end
        raise BundleError(
            f"models folder {models_dir}: no bundle trained on or before {asof} "
            f"(earliest training end is {first})"
        )
    chosen = usable[-1]
    if features is not None:
        check_features(chosen.manifest, features, chosen.path)
    return chosen
