"""Reading and verifying bundles, and picking one by date; no torch needed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.bundle import (
    MANIFEST_NAME,
    MODEL_NAME,
    SCHEMA_VERSION,
    Manifest,
    find_bundle,
    is_bundle,
    list_bundles,
    load_bundle,
    read_manifest,
    sha256_file,
)
from shared.config import FeatureSettings
from shared.errors import BundleError
from shared.features import FEATURE_NAMES, feature_params
from tests.paths import ROOT

FEATURES = FeatureSettings()


def make_fake(path: Path, train_end: str = "2020-12-31", **changes: object) -> Path:
    """A bundle whose model.onnx is arbitrary bytes: bundle.py only checks its checksum."""
    path.mkdir(parents=True)
    (path / MODEL_NAME).write_bytes(b"not really onnx " + train_end.encode())
    manifest = Manifest(
        feature_names=FEATURE_NAMES,
        feature_params=feature_params(FEATURES),
        window=FEATURES.window,
        latent=8,
        scaler={"mean": [0.0] * 5, "std": [1.0] * 5, "clip": 5.0},
        train_start="2019-01-02",
        train_end=train_end,
        universe=("SPY", "TLT"),
        losses={"train": 0.1, "val": 0.2, "naive_train": 1.0, "naive_val": 1.0},
        model_sha256=sha256_file(path / MODEL_NAME),
        created="2026-01-01T00:00:00+00:00",
    )
    data = {**manifest.to_dict(), **changes}
    (path / MANIFEST_NAME).write_text(json.dumps(data))
    return path


def _error(path: Path, features: FeatureSettings | None = None) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(path, features=features)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_valid_bundle_and_round_trip(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b")
    bundle = load_bundle(path, features=FEATURES)
    assert bundle.model_path == path / MODEL_NAME and is_bundle(path)
    m = bundle.manifest
    assert m.schema_version == SCHEMA_VERSION and m.train_end_date == dt.date(2020, 12, 31)
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    # Unknown extra keys from a newer writer of the same schema are ignored.
    raw = json.loads((path / MANIFEST_NAME).read_text())
    assert Manifest.from_dict({**raw, "future_field": 1}) == m


def test_missing_folder_and_files(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "nope")
    path = make_fake(tmp_path / "b")
    (path / MODEL_NAME).unlink()
    assert "model.onnx is missing" in _error(path)
    (path / MANIFEST_NAME).unlink()
    assert "manifest.json is missing" in _error(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b")
    (path / MANIFEST_NAME).write_text("{not json")
    assert "not valid JSON" in _error(path)
    (path / MANIFEST_NAME).write_text("[1, 2]")
    assert "schema version" in _error(path)


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_unknown_schema(tmp_path: Path, version: object) -> None:
    path = make_fake(tmp_path / "b", schema_version=version)
    assert "unknown manifest schema version" in _error(path)


def test_malformed_fields(tmp_path: Path) -> None:
    raw = json.loads((make_fake(tmp_path / "a") / MANIFEST_NAME).read_text())
    del raw["latent"]
    (tmp_path / "a" / MANIFEST_NAME).write_text(json.dumps(raw))
    assert "missing field 'latent'" in _error(tmp_path / "a")
    assert "'train_end' is not an ISO date" in _error(make_fake(tmp_path / "b", train_end="soon"))
    assert "'window' is not an integer" in _error(make_fake(tmp_path / "c", window="30"))


def test_checksum_mismatch(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b")
    (path / MODEL_NAME).write_bytes(b"tampered")
    assert "checksum mismatch" in _error(path)


def test_feature_mismatch(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b")
    assert "30-day windows" in _error(path, FeatureSettings(window=20))
    msg = _error(path, FeatureSettings(rsi_period=21))
    assert "'rsi_period' is 14 in the bundle, 21 in the config" in msg
    # Without a config to compare with, the bundle loads; clip lives in the scaler.
    load_bundle(path)
    load_bundle(path, features=FeatureSettings(clip=3.0))
    names = make_fake(tmp_path / "c", feature_names=["a", "b", "c", "d", "e"])
    assert "feature names" in _error(names, FEATURES)


def test_find_bundle_picks_newest_trained_before(tmp_path: Path) -> None:
    for day in ("2020-12-31", "2021-12-31", "2022-12-30"):
        make_fake(tmp_path / day, train_end=day)
    (tmp_path / "notes").mkdir()  # not a bundle: ignored
    names = [b.path.name for b in list_bundles(tmp_path)]
    assert names == ["2020-12-31", "2021-12-31", "2022-12-30"]
    assert find_bundle(tmp_path, dt.date(2022, 1, 1)).path.name == "2021-12-31"
    assert find_bundle(tmp_path, dt.date(2021, 12, 30)).path.name == "2020-12-31"
    assert find_bundle(tmp_path, dt.date(2021, 12, 31)).path.name == "2021-12-31"  # same close
    assert find_bundle(tmp_path, dt.date(2030, 1, 1)).path.name == "2022-12-30"
    with pytest.raises(BundleError, match="no bundle trained on or before 2020-12-30"):
        find_bundle(tmp_path, dt.date(2020, 12, 30))
    with pytest.raises(BundleError, match="config \\[features\\] window is 20"):
        find_bundle(tmp_path, dt.date(2030, 1, 1), features=FeatureSettings(window=20))


def test_find_bundle_single_bundle_is_returned_as_is(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b", train_end="2022-12-30")
    # The caller decides what to do with a model trained after the date.
    assert find_bundle(path, dt.date(2020, 1, 1)).path == path


def test_find_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        find_bundle(tmp_path / "nope", dt.date(2020, 1, 1))
    with pytest.raises(BundleError, match="no model bundle in it"):
        find_bundle(tmp_path, dt.date(2020, 1, 1))
    broken = make_fake(tmp_path / "2020-12-31")
    (broken / MODEL_NAME).write_bytes(b"x")
    # A broken bundle is an error, never silently skipped for an older one.
    with pytest.raises(BundleError, match="checksum mismatch"):
        find_bundle(tmp_path, dt.date(2022, 1, 1))


def test_read_manifest_skips_model(tmp_path: Path) -> None:
    path = make_fake(tmp_path / "b")
    (path / MODEL_NAME).unlink()
    assert read_manifest(path).latent == 8


def test_bundle_module_imports_no_torch() -> None:
    code = (
        "import sys, shared.bundle; "
        "bad = {'torch', 'onnx', 'onnxruntime'} & sys.modules.keys(); "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    root = ROOT
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
