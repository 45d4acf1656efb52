"""Per-feature standardisation fit on a training period only.

A scaler fit on the whole history would leak the future into every window;
this one is fit on the dates of a training period and then stored, as plain
numbers, in the model bundle so inference applies exactly the same map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.errors import DataError
from shared.features import FEATURE_NAMES, FeatureCube


def date_mask(dates: np.ndarray, start: dt.date | None, end: dt.date | None) -> np.ndarray:
    """Boolean mask of ``dates`` inside ``[start, end]`` (either bound optional)."""
    mask = np.ones(dates.shape, dtype=bool)
    if start is not None:
        mask &= dates >= np.datetime64(start, "D")
    if end is not None:
        mask &= dates <= np.datetime64(end, "D")
    return mask


@dataclass(frozen=True)
class Scaler:
    """``(x - mean) / std`` per feature, then clipped to ``[-clip, clip]``.

    Attributes
    ----------
    mean, std : tuple of float
        One value per feature in :data:`shared.features.FEATURE_NAMES` order.
    clip : float
        Bound on scaled values; keeps rare crashes (a -60% day) from
        dominating the reconstruction loss.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    clip: float = 5.0

    @classmethod
    def fit(
        cls, cube: FeatureCube, start: dt.date | None, end: dt.date | None, clip: float
    ) -> Scaler:
        """Fit on every finite feature value dated within ``[start, end]``.

        Raises
        ------
        DataError
            No finite value of some feature falls in the period.
        """
        block = cube.values[date_mask(cube.dates, start, end)].reshape(-1, cube.values.shape[-1])
        counts = np.isfinite(block).sum(axis=0)
        if block.size == 0 or (counts < 2).any():
            raise DataError(f"scaler: no feature data between {start} and {end}")
        # float64 accumulation: float32 sums over ~10^5 values lose digits.
        mean = np.asarray(np.nanmean(block, axis=0, dtype=np.float64))
        std = np.asarray(np.nanstd(block, axis=0, dtype=np.float64))
        std = np.where(std > 0, std, 1.0)
        return cls(tuple(mean.tolist()), tuple(std.tolist()), float(clip))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale an array whose last axis holds the features; NaN stays NaN."""
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        scaled = (values - mean) / std
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURE_NAMES),
            "mean": list(self.mean),
            "std": list(self.std),
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        """Rebuild from :meth:`to_dict` output; raise DataError if it does not fit."""
        try:
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
            clip = float(data.get("clip", 5.0))
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"scaler: malformed parameters ({err})") from None
        n = len(FEATURE_NAMES)
        if len(mean) != n or len(std) != n or min(std) <= 0:
            raise DataError(f"scaler: expected {n} means and positive stds")
        return cls(mean, std, clip)
