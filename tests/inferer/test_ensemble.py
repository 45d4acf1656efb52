"""Seed ensembles: the ensemble's distances are the mean of its members', checksums, training."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from inferer.embed import Embedder
from shared.bundle import MANIFEST_NAME, load_bundle
from shared.errors import BundleError
from tests.bundles import add_members, make_bundle


@pytest.fixture()
def ensemble(sample_prices: pl.DataFrame, tmp_path: Path) -> Path:
    path = make_bundle(
        tmp_path / "ens", sample_prices, dt.date(2016, 1, 1), dt.date(2017, 12, 29), latent=8
    )
    return add_members(path, seeds=(1, 2))


def _squared(x: np.ndarray) -> np.ndarray:
    return ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)


def test_the_ensembles_distances_are_the_mean_of_its_members(ensemble: Path) -> None:
    bundle = load_bundle(ensemble)
    windows = np.random.default_rng(0).normal(size=(40, 30, 5)).astype(np.float32)
    together = Embedder(bundle, threads=1).embed(windows)
    assert together.shape == (40, 24)
    each = [Embedder(bundle, threads=1, member=k).embed(windows) for k in range(3)]
    units = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in each]
    mean = np.mean([_squared(u.astype(np.float64)) for u in units], axis=0)
    np.testing.assert_allclose(_squared(together.astype(np.float64)), mean, atol=1e-5)
    assert not np.allclose(each[0], each[1])  # three different encoders


def test_a_member_that_does_not_match_its_checksum_is_refused(ensemble: Path) -> None:
    (ensemble / "model_2.onnx").write_bytes(b"not a model")
    with pytest.raises(BundleError, match=r"ensemble member model_2.onnx .* checksum"):
        load_bundle(ensemble)
    manifest = json.loads((ensemble / MANIFEST_NAME).read_text())
    (ensemble / "model_2.onnx").unlink()
    assert manifest["members"][1]["file"] == "model_2.onnx"
    with pytest.raises(BundleError, match="is missing"):
        load_bundle(ensemble)


def test_a_decision_reads_every_member(ensemble: Path, sample_prices: pl.DataFrame) -> None:
    from inferer.pipeline import decide_asof
    from shared.config import Settings

    settings = Settings.model_validate(
        {"data": {"benchmark": "SP500"}, "inference": {"min_clusters": 3, "max_clusters": 6}}
    )
    alloc = decide_asof(sample_prices, dt.date(2018, 6, 29), load_bundle(ensemble), settings)
    assert alloc.embeddings.shape[1] == 24 and abs(sum(alloc.weights.values()) - 1) < 1e-9
