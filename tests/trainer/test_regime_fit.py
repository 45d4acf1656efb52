"""Training with the regime layer on: the bundle carries the model the inference reads as is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from inferer.regime import Regimes
from shared.bundle import load_bundle
from shared.config import Settings
from shared.errors import DataError
from shared.regime import fit_regime, history_of_prices
from tests.trainer.test_train import TINY_MODEL, TINY_TRAIN
from trainer.walkforward import train_bundle

END = dt.date(2018, 12, 31)


def _settings(**regime: object) -> Settings:
    return Settings.model_validate(
        {
            "data": {"benchmark": "SP500"},
            "model": TINY_MODEL.model_dump(),
            "train": TINY_TRAIN.model_dump(),
            "regime": {"model": "jump", "train_years": 2, **regime},
        }
    )


@pytest.mark.parametrize("features", ["returns", "both"])
def test_the_bundle_carries_the_model_the_run_would_fit(
    sample_prices: pl.DataFrame, tmp_path: Path, features: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(features=features)
    path = train_bundle(sample_prices, settings, dt.date(2017, 1, 1), END, tmp_path / "b")
    bundle = load_bundle(path)
    carried = bundle.manifest.regime
    assert carried["kind"] == "jump" and carried["end"] == END.isoformat()
    assert ("projection" in carried["params"]) == (features == "both")
    history = history_of_prices(sample_prices, "SP500")
    run_fit = Regimes(history, settings)
    # The run reads the carried model, not a refit; a refit of its own gives the same numbers.
    monkeypatch.setattr("inferer.regime.fit_regime", lambda *a: pytest.fail("refitted"))
    stress = run_fit.stress(bundle)
    monkeypatch.undo()
    embedded = run_fit.embedded(bundle)
    refit = fit_regime(history, END, settings.regime, embedded, bundle.manifest.model_sha256)
    assert refit.key == carried["key"]
    np.testing.assert_allclose(refit.stress(history, embedded), stress, equal_nan=True)


def test_too_short_a_history_stops_before_training(
    sample_prices: pl.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"needs the benchmark's closes from 2008-12-31"):
        train_bundle(
            sample_prices, _settings(train_years=10), dt.date(2017, 1, 1), END, tmp_path / "b"
        )
    assert not (tmp_path / "b").exists()
