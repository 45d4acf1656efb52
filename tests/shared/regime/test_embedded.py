"""shared.regime.embedded: each day's window embedded from closes up to it, and its projection."""

from __future__ import annotations

import numpy as np

from shared.config import FeatureSettings
from shared.regime import History
from shared.regime.embedded import COMPONENTS, embed_history, fit_projection
from shared.scaling import Scaler

MANIFEST = {"window": 30, "scaler": Scaler((0.0,) * 5, (1.0,) * 5, 5.0).to_dict()}


def _embed(windows: np.ndarray) -> np.ndarray:
    """A stand-in encoder: the last day's features and the window's mean, per feature."""
    return np.hstack([windows[:, -1, :], windows.mean(axis=1)])


def _history(n: int, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    dates = np.arange(np.datetime64("2010-01-04"), np.datetime64("2010-01-04") + n)
    return History(dates, 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), "test")


def test_each_day_is_embedded_from_its_own_window_only() -> None:
    history = _history(400)
    embedded = embed_history(history, FeatureSettings(), MANIFEST, _embed)
    assert embedded.shape == (400, 10)
    first = int(np.argmax(np.isfinite(embedded).all(axis=1)))
    assert first > 30 and np.isfinite(embedded[first:]).all()  # the indicators' warm-up, then all
    shocked = History(history.dates, history.closes.copy(), "shocked")
    shocked.closes[300:] *= 0.5
    again = embed_history(shocked, FeatureSettings(), MANIFEST, _embed)
    np.testing.assert_array_equal(again[:300], embedded[:300])
    assert not np.allclose(again[300:], embedded[300:])


def test_the_projection_keeps_the_largest_directions() -> None:
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(500, 1)) * np.array([[3.0, 0, 0, 0, 0, 0]])
    x = signal + rng.normal(scale=0.1, size=(500, 6))
    x[:20] = np.nan  # days without a window
    projection = fit_projection(x)
    assert projection.components.shape == (COMPONENTS, 6)
    assert abs(projection.components[0, 0]) > 0.99
    coords = projection(x)
    assert (coords[:20] == 0).all() and np.isfinite(coords).all()
