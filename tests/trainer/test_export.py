"""ONNX export, torch/onnxruntime parity, and atomic bundle writing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from inferer.embed import Embedder
from shared.bundle import MODEL_NAME, Bundle, Manifest, list_bundles, load_bundle, sha256_file
from shared.config import FeatureSettings, ModelSettings
from shared.errors import BundleError
from shared.features import FEATURE_NAMES
from shared.scaling import Scaler
from trainer import export
from trainer.export import (
    ParityError,
    check_parity,
    export_onnx,
    parity_inputs,
    write_bundle,
)
from trainer.model import Autoencoder

FEATURES = FeatureSettings()
WINDOW, NF = FEATURES.window, len(FEATURE_NAMES)
TINY = ModelSettings(d_model=16, n_heads=2, n_layers=1, d_ff=32, latent=8)
SCALER = Scaler((0.0, 50.0, 0.0, 0.01, -0.05), (0.01, 10.0, 0.001, 0.005, 0.05), 5.0)


def _encoder(settings: ModelSettings = TINY, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return Autoencoder(settings, WINDOW, NF).encoder.eval()


def _write(target: Path, encoder: torch.nn.Module, latent: int = TINY.latent):
    return write_bundle(
        target,
        encoder,
        features=FEATURES,
        scaler=SCALER,
        train_start=dt.date(2023, 1, 3),
        train_end=dt.date(2024, 12, 31),
        universe=("SPY", "TLT"),
        losses={"train": 0.1, "val": 0.2, "naive_train": 1.0, "naive_val": 1.1, "best_epoch": 3},
        latent=latent,
        settings={"model": TINY.model_dump(mode="json")},
    )


def _unwritten_bundle(folder: Path, latent: int) -> Bundle:
    """A bundle whose manifest lives in memory only, around an exported model."""
    manifest = Manifest(
        feature_names=FEATURE_NAMES,
        feature_params={},
        window=WINDOW,
        latent=latent,
        scaler=SCALER.to_dict(),
        train_start="2023-01-03",
        train_end="2024-12-31",
        universe=("SPY",),
        losses={},
        model_sha256=sha256_file(folder / MODEL_NAME),
    )
    return Bundle(folder, manifest)


@pytest.mark.parametrize("settings", [TINY, ModelSettings()], ids=["tiny", "default"])
def test_parity_across_batch_sizes(settings: ModelSettings, tmp_path: Path) -> None:
    encoder = _encoder(settings)
    path = tmp_path / MODEL_NAME
    export_onnx(encoder, path, WINDOW, NF)
    batches = parity_inputs(None, WINDOW, NF, (1, 7, 300))
    assert [len(b) for b in batches] == [1, 7, 300]
    bundle = _unwritten_bundle(tmp_path, settings.latent)
    assert check_parity(encoder, bundle, batches) < 1e-4
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("windows", "latent")
    assert inp.type.tensor_type.shape.dim[0].dim_param  # symbolic batch axis
    got = Embedder(bundle, 1).embed(batches[2])
    assert got.shape == (300, settings.latent) and got.dtype == np.float32


def test_parity_inputs_use_real_windows_first() -> None:
    real = np.full((5, WINDOW, NF), 3.0, np.float32)
    one, seven = parity_inputs(real, WINDOW, NF, (1, 7))
    assert (one == 3).all() and (seven[:5] == 3).all() and not (seven[5:] == 3).any()


def test_bundle_round_trip(tmp_path: Path) -> None:
    encoder = _encoder()
    bundle = _write(tmp_path / "bundle", encoder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no temp leftovers
    assert sorted(p.name for p in bundle.path.iterdir()) == ["manifest.json", "model.onnx"]
    m = load_bundle(bundle.path, features=FEATURES).manifest
    assert m == bundle.manifest
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert m.window == WINDOW and m.latent == TINY.latent
    assert m.feature_names == FEATURE_NAMES and m.universe == ("SPY", "TLT")
    assert Scaler.from_dict(m.scaler) == SCALER
    assert m.losses["naive_val"] == 1.1 and m.train_end == "2024-12-31"
    assert {"torch", "onnx", "onnxruntime", "numpy", "deepquant"} <= m.versions.keys()
    assert m.opset >= 17 and (m.input_name, m.output_name) == ("windows", "latent")
    assert m.extra["parity_max_abs_diff"] < 1e-4 and m.created
    x = np.random.default_rng(1).standard_normal((4, WINDOW, NF)).astype(np.float32)
    with torch.inference_mode():
        want = encoder(torch.from_numpy(x)).numpy()
    got = Embedder(bundle, 1).embed(x)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_parity_failure_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_export = export.export_onnx
    other = _encoder(seed=1)
    monkeypatch.setattr(export, "export_onnx", lambda enc, *a: real_export(other, *a))
    with pytest.raises(ParityError, match="differ by"):
        _write(tmp_path / "bundle", _encoder())
    assert list(tmp_path.iterdir()) == []


def test_existing_bundle_is_replaced_whole(tmp_path: Path) -> None:
    first = _write(tmp_path / "b", _encoder(seed=0))
    (first.path / "stray.txt").write_text("old")
    second = _write(tmp_path / "b", _encoder(seed=1))
    assert second.manifest.model_sha256 != first.manifest.model_sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert not (second.path / "stray.txt").exists()


def test_an_empty_existing_folder_is_filled_in_place(tmp_path: Path) -> None:
    # A container volume mounted at /models: it exists, is empty, and its parent is read-only.
    mount = tmp_path / "models"
    mount.mkdir()
    tmp_path.chmod(0o555)
    try:
        bundle = _write(mount, _encoder())
    finally:
        tmp_path.chmod(0o755)
    assert bundle.path == mount
    assert sorted(p.name for p in mount.iterdir()) == ["manifest.json", "model.onnx"]


def test_a_folder_of_other_things_is_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "wf"
    (root / "2024-01-01").mkdir(parents=True)
    with pytest.raises(BundleError, match="is not empty and is not a bundle"):
        _write(root, _encoder())
    assert [p.name for p in root.iterdir()] == ["2024-01-01"]


def test_a_killed_export_neither_breaks_the_folder_nor_stays(tmp_path: Path) -> None:
    wf = tmp_path / "wf"
    good = _write(wf / "2024-01-01", _encoder())
    # What a training killed during its export of the next bundle leaves behind:
    # a hidden staging folder that looks like a (broken) bundle.
    stale = wf / ".2025-01-01.tmp-dead"
    stale.mkdir()
    (stale / "model.onnx").write_bytes(b"half")
    (stale / "manifest.json").write_text((good.path / "manifest.json").read_text())
    assert [b.path for b in list_bundles(wf)] == [good.path]
    _write(wf / "2025-01-01", _encoder(seed=1))  # the next training cleans it up
    assert sorted(p.name for p in wf.iterdir()) == ["2024-01-01", "2025-01-01"]


@pytest.mark.parametrize("where", ["file", "under_file", "other_folder"])
def test_train_checks_out_before_training(tmp_path: Path, where: str) -> None:
    import subprocess
    import sys

    from tests.paths import ROOT

    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a bundle")
    out = {"file": blocker, "under_file": blocker / "model", "other_folder": other}[where]
    proc = subprocess.run(
        [sys.executable, "-m", "deepquant", "train", "--config",
         str(ROOT / "configs" / "sample.toml"), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "one bundle, trained on" not in proc.stdout  # refused before any training
