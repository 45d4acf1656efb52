"""The autoencoder's view of the market as regime features.

Each day, the benchmark's 30-day window of close-only features (the ones the
encoder was trained on, scaled by the bundle's scaler) is embedded by the
bundle's encoder; a regime model reads the first :data:`COMPONENTS`
principal components of those embeddings, fitted on its training window
(``[regime] features = "autoencoder"``), or those beside the return features
(``"both"``). A day without a complete window (the indicators' warm-up) sits
at the components' training mean.

The cross-section's mean and dispersion of embeddings are not used: the
panel's assets have prices from 2015, and a regime model learns from the
decades before each decision.

The encoder runs wherever the caller has it: ``embed`` is a function of
scaled windows (onnxruntime in the cron image), so this module needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from shared.config import FeatureSettings
from shared.features import compute_features
from shared.regime.history import History
from shared.scaling import Scaler

__all__ = ["COMPONENTS", "Embed", "Projection", "embed_history", "fit_projection"]

FloatArray = npt.NDArray[np.float64]
#: Scaled windows ``(n, window, features)`` -> embeddings ``(n, latent)``.
Embed = Callable[[np.ndarray], np.ndarray]

#: Principal components of the embeddings a regime model reads.
COMPONENTS = 3


def embed_history(
    history: History, features: FeatureSettings, manifest: Mapping[str, Any], embed: Embed
) -> FloatArray:
    """``(T, latent)`` embeddings of the benchmark's window ending each day (NaN: no window).

    ``manifest``: the bundle's ``window`` and ``scaler``; each window reads
    closes up to its last day only.
    """
    frame = pl.DataFrame({"date": history.dates, "benchmark": history.closes})
    cube = compute_features(frame, features)
    window = int(manifest["window"])
    values = cube.values[:, 0, :]
    out = np.full((values.shape[0], 0), np.nan)
    if values.shape[0] < window:
        return out
    blocks = sliding_window_view(values, window, axis=0).transpose(0, 2, 1)
    ok = np.isfinite(blocks).all(axis=(1, 2))
    scaled = Scaler.from_dict(dict(manifest["scaler"])).transform(np.ascontiguousarray(blocks[ok]))
    embedded = np.asarray(embed(scaled), dtype=np.float64)
    out = np.full((values.shape[0], embedded.shape[1]), np.nan)
    out[np.flatnonzero(ok) + window - 1] = embedded
    return out


@dataclass(frozen=True)
class Projection:
    """The training window's mean embedding and its first principal directions."""

    mean: FloatArray
    components: FloatArray

    def __call__(self, embedded: npt.ArrayLike) -> FloatArray:
        """``(T, COMPONENTS)`` coordinates; 0 (the training mean) on days without a window."""
        x = np.asarray(embedded, dtype=np.float64)
        out = (x - self.mean) @ self.components.T
        return np.where(np.isfinite(out), out, 0.0)

    def params(self) -> dict[str, Any]:
        """As JSON."""
        return {"mean": self.mean.tolist(), "components": self.components.tolist()}

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> Projection:
        """The projection :meth:`params` wrote."""
        return cls(np.asarray(p["mean"], float), np.asarray(p["components"], float))


def fit_projection(embedded: FloatArray) -> Projection:
    """Principal directions of the days that have an embedding (their SVD)."""
    rows = embedded[np.isfinite(embedded).all(axis=1)]
    mean = rows.mean(axis=0)
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    return Projection(mean, vt[:COMPONENTS])
