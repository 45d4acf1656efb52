"""Model bundles for inference tests, built without torch.

A linear encoder (flatten the window, multiply by a fixed random matrix) is
written straight as an ONNX graph with ``onnx.helper``, so the inference side
is tested on a real onnxruntime session while staying torch-free and fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import polars as pl
from onnx import TensorProto, helper, numpy_helper

from shared.bundle import MANIFEST_NAME, MODEL_NAME, Manifest, sha256_file
from shared.config import FeatureSettings
from shared.features import FEATURE_NAMES, compute_features, feature_params
from shared.scaling import Scaler


def linear_encoder(window: int, latent: int, seed: int = 0) -> onnx.ModelProto:
    n_in = window * len(FEATURE_NAMES)
    weight = np.random.default_rng(seed).normal(0, 1 / np.sqrt(n_in), (n_in, latent))
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["windows", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weight"], ["latent"]),
        ],
        "linear_encoder",
        [helper.make_tensor_value_info("windows", TensorProto.FLOAT, ["batch", window, 5])],
        [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", latent])],
        [
            numpy_helper.from_array(np.array([-1, n_in], dtype=np.int64), "shape"),
            numpy_helper.from_array(weight.astype(np.float32), "weight"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_bundle(
    path: Path,
    prices: pl.DataFrame,
    train_start: dt.date,
    train_end: dt.date,
    *,
    features: FeatureSettings | None = None,
    latent: int = 8,
    seed: int = 0,
) -> Path:
    """Write a bundle whose scaler is fit on ``prices`` in ``[train_start, train_end]``."""
    features = features or FeatureSettings()
    cube = compute_features(prices.filter(pl.col("date") <= train_end), features)
    scaler = Scaler.fit(cube, train_start, train_end, features.clip)
    path.mkdir(parents=True, exist_ok=True)
    onnx.save(linear_encoder(features.window, latent, seed), path / MODEL_NAME)
    manifest = Manifest(
        feature_names=FEATURE_NAMES,
        feature_params=feature_params(features),
        window=features.window,
        latent=latent,
        scaler=scaler.to_dict(),
        train_start=train_start.isoformat(),
        train_end=train_end.isoformat(),
        universe=tuple(c for c in prices.columns if c != "date"),
        losses={"train": 0.0, "val": 0.0, "naive_train": 1.0, "naive_val": 1.0},
        model_sha256=sha256_file(path / MODEL_NAME),
        created="2026-01-01T00:00:00+00:00",
    )
    import json

    (path / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2))
    return path


def add_members(path: Path, seeds: Sequence[int]) -> Path:
    """Make the bundle at ``path`` a seed ensemble: a linear encoder per seed beside its own."""
    import json

    manifest = json.loads((path / MANIFEST_NAME).read_text())
    members = []
    for k, seed in enumerate(seeds, start=1):
        file = path / f"model_{k}.onnx"
        onnx.save(linear_encoder(manifest["window"], manifest["latent"], seed), file)
        members.append({"file": file.name, "sha256": sha256_file(file), "seed": seed, "losses": {}})
    manifest["members"] = members
    (path / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return path
