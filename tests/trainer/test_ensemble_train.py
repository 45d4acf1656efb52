"""Training a seed ensemble: K models in one bundle, each exported and checked for parity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from inferer.embed import Embedder
from shared.bundle import load_bundle
from shared.config import Settings
from tests.trainer.test_train import TINY_MODEL, TINY_TRAIN
from trainer.walkforward import train_bundle


def test_a_bundle_of_three_seeds_carries_every_member(
    sample_prices: pl.DataFrame, tmp_path: Path
) -> None:
    settings = Settings(
        model=TINY_MODEL, train=TINY_TRAIN.model_copy(update={"seeds": 3, "epochs": 2})
    )
    path = train_bundle(
        sample_prices, settings, dt.date(2016, 1, 1), dt.date(2017, 12, 29), tmp_path / "b"
    )
    bundle = load_bundle(path)
    members = bundle.manifest.members
    assert [m["file"] for m in members] == ["model_1.onnx", "model_2.onnx"]
    assert [m["seed"] for m in members] == [1, 2]
    assert all(m["parity_max_abs_diff"] < 1e-4 and m["losses"]["val"] > 0 for m in members)
    windows = np.random.default_rng(0).normal(size=(10, 30, 5)).astype(np.float32)
    first, second = (Embedder(bundle, 1, member=k).embed(windows) for k in (0, 1))
    assert not np.allclose(first, second)  # other seeds, other encoders
    assert Embedder(bundle, 1).embed(windows).shape == (10, 3 * TINY_MODEL.latent)
    single = Settings(model=TINY_MODEL, train=TINY_TRAIN.model_copy(update={"epochs": 2}))
    one = train_bundle(
        sample_prices, single, dt.date(2016, 1, 1), dt.date(2017, 12, 29), tmp_path / "one"
    )
    assert load_bundle(one).manifest.members == []
