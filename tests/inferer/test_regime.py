"""inferer.regime: the overlay and exposures by hand, the reading's spell, the carried model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from inferer.regime import Regimes, exposure_of, overlay
from shared.bundle import MANIFEST_NAME, load_bundle
from shared.config import RegimeSettings, Settings
from shared.errors import DataError
from shared.regime import History, fit_regime

TREND = Settings.model_validate({"regime": {"model": "trend", "trend_days": 20, "train_years": 1}})


def test_the_overlay_moves_each_risky_weight_to_the_proxy_by_hand() -> None:
    book = {"A": 0.5, "B": 0.3, "BIL": 0.2}
    moved = overlay(book, 0.25, "BIL", ["date", "A", "B", "BIL"])
    assert moved == pytest.approx({"BIL": 0.2 + 0.6, "A": 0.125, "B": 0.075})
    assert list(moved) == ["BIL", "A", "B"]  # largest first
    assert overlay(book, 1.0, "BIL", ["A", "B", "BIL"]) == pytest.approx(book)
    # A rate, not a ticker: the moved weight stays in cash.
    assert overlay({"A": 0.6, "B": 0.4}, 0.5, 0.03, ["A", "B"]) == pytest.approx(
        {"A": 0.3, "B": 0.2}
    )
    assert overlay({"A": 1.0}, 0.0, "BIL", ["A", "BIL"]) == {"BIL": 1.0}


def test_exposures_by_hand() -> None:
    p = [0.0, 0.1, 0.49, 0.5, 0.62, 1.0]
    state = RegimeSettings(model="jump", fraction=0.8)
    np.testing.assert_allclose(exposure_of(p, state), [1, 1, 1, 0.2, 0.2, 0.2])
    graded = RegimeSettings(model="hmm", exposure="probability")
    np.testing.assert_allclose(exposure_of(p, graded), [1, 1, 0.5, 0.5, 0.5, 0.0])


def _history(closes: list[float], first: dt.date = dt.date(2019, 1, 1)) -> History:
    dates = np.array([np.datetime64(first + dt.timedelta(days=i), "D") for i in range(len(closes))])
    return History(dates, np.asarray(closes, dtype=float), "test closes")


def _bundle(tmp_path: Path, sample_models: Path, regime: dict | None = None):  # type: ignore[no-untyped-def]
    """A copy of a sample bundle ending 2019-12-30, carrying ``regime``."""
    import shutil

    src = sorted(sample_models.iterdir())[-1]
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    manifest = json.loads((dst / MANIFEST_NAME).read_text())
    manifest["train_end"] = "2019-12-30"
    manifest["regime"] = regime or {}
    (dst / MANIFEST_NAME).write_text(json.dumps(manifest))
    return load_bundle(dst)


def test_a_reading_knows_its_spell(tmp_path: Path, sample_models: Path) -> None:
    # 400 rising closes, then a fall: the trend rule turns stressed on the fall's first day.
    closes = [100.0 + i for i in range(400)] + [300.0, 299.0, 298.0]
    history = _history(closes)
    bundle = _bundle(tmp_path, sample_models)
    regimes = Regimes(history, TREND)
    first_fall = history.dates[400].item()
    calm = regimes.read(bundle, first_fall - dt.timedelta(days=1))
    assert not calm.stressed and calm.exposure == 1.0
    last = regimes.read(bundle, history.dates[-1].item())
    assert last.stressed and last.exposure == 0.0
    assert (last.since, last.days) == (first_fall, 3)


def test_a_stale_history_is_an_error_naming_the_dates(tmp_path: Path, sample_models: Path) -> None:
    history = _history([100.0 + i for i in range(400)])
    regimes = Regimes(history, TREND)
    with pytest.raises(
        DataError, match=r"no close in the week up to 2020-03-01 \(its last before it: 2020-02-04\)"
    ):
        regimes.read(_bundle(tmp_path, sample_models), dt.date(2020, 3, 1))


def test_a_bundle_carrying_the_model_is_read_not_refitted(
    tmp_path: Path, sample_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _history([100.0 + np.sin(i / 9) * 20 for i in range(600)])
    model = fit_regime(history, dt.date(2019, 12, 30), TREND.regime)
    carried = dataclasses.replace(model, params={"days": 25})  # tell it apart from a refit
    bundle = _bundle(tmp_path, sample_models, carried.to_dict())

    def no_fit(*args: object) -> None:
        raise AssertionError("the carried model should have been used")

    monkeypatch.setattr("inferer.regime.fit_regime", no_fit)
    assert Regimes(history, TREND).model_for(bundle).params == {"days": 25}
    # Other settings: not the carried model, so a fit, which says so.
    other = TREND.model_copy(update={"regime": TREND.regime.model_copy(update={"trend_days": 30})})
    with pytest.raises(AssertionError, match="carried model"):
        Regimes(history, other).model_for(bundle)
