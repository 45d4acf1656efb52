"""inferer.run: what a run reuses gives the results the steps compute on their own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from inferer.cluster import cluster_with
from inferer.embed import Embedder
from inferer.memo import Memo
from inferer.run import Run
from shared.bundle import find_bundle
from shared.config import FeatureSettings, InferenceSettings
from shared.features import compute_features
from shared.windows import windows_asof

DAY = dt.date(2019, 6, 28)


def test_a_run_embeds_and_clusters_as_the_steps_do_and_computes_each_once(
    sample_prices: pl.DataFrame, sample_models: Path, tmp_path: Path
) -> None:
    bundle = find_bundle(sample_models, DAY)
    cube = compute_features(sample_prices, FeatureSettings())
    inputs = windows_asof(cube, DAY, bundle.manifest.window).values
    run = Run(1, memo=Memo(tmp_path))
    embedded = run.embed(bundle, inputs)
    np.testing.assert_array_equal(embedded, Embedder(bundle, 1).embed(inputs))
    cfg = InferenceSettings(max_clusters=6)
    clusters = run.cluster(embedded, cfg)
    np.testing.assert_array_equal(clusters.labels, cluster_with(embedded, cfg).labels)
    # A second run on the same cache folder finds both: a sweep's next variant.
    again = Run(1, memo=Memo(tmp_path))
    again.embed(bundle, inputs), again.cluster(embedded, cfg)
    assert (again.memo.hits, again.memo.misses) == (2, 0)
    # Another clustering setting is another key.
    again.cluster(embedded, cfg.model_copy(update={"linkage": "average"}))
    assert again.memo.misses == 1


def test_a_runs_panel_features_serve_every_date(sample_prices: pl.DataFrame) -> None:
    cube = compute_features(sample_prices, FeatureSettings())
    assert Run(1, features=cube).features(sample_prices.head(300), FeatureSettings(), 30) is cube
    alone = Run(1).features(sample_prices.head(300), FeatureSettings(), 30)
    assert alone is not cube and alone.dates[-1] == sample_prices["date"][299]
