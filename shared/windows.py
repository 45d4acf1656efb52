"""Fixed-length feature windows, as of one date or for a training period.

A window of asset ``i`` ending on day ``t`` holds its features on days
``t - window + 1 .. t``; nothing after ``t`` is read. Only fully finite windows
are used: an asset that is not yet listed, lacks warm-up history, or has a gap
longer than the forward-fill limit is left out (and named) rather than padded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.errors import DataError
from shared.features import FeatureCube
from shared.scaling import Scaler, date_mask


@dataclass(frozen=True)
class AsofWindows:
    """Windows of all assets that have one on ``asof``.

    Attributes
    ----------
    asof : datetime.date
        The last calendar date on or before the requested date.
    tickers : tuple of str
        Assets with a complete window, in cube order.
    values : numpy.ndarray
        ``(len(tickers), window, F)`` float32.
    skipped : tuple of str
        Assets left out for lack of a complete window.
    """

    asof: dt.date
    tickers: tuple[str, ...]
    values: np.ndarray
    skipped: tuple[str, ...]


def asof_index(dates: np.ndarray, asof: dt.date) -> int:
    """Index of the last date on or before ``asof``; DataError if there is none."""
    idx = int(np.searchsorted(dates, np.datetime64(asof, "D"), side="right")) - 1
    if idx < 0:
        raise DataError(f"as-of date {asof} is before the first price date {dates[0]}")
    return idx


#: Calendar days an as-of date may lie after the last price (a weekend plus holidays).
ASOF_GRACE_DAYS = 7


def effective_asof(dates: Any, asof: dt.date | None, today: dt.date | None = None) -> dt.date:
    """The price date a decision for ``asof`` is made on: the last one on or before it.

    ``None`` means the last price date. A weekend or holiday rolls back to the
    trading day before it.

    Raises
    ------
    DataError
        ``asof`` is after ``today``, before the first price, or more than
        :data:`ASOF_GRACE_DAYS` after the last price on or before it (the data
        does not reach it).
    """
    days = np.asarray(dates, dtype="datetime64[D]")
    if asof is None:
        return dt.date.fromisoformat(str(days[-1]))
    today = today or dt.date.today()
    if asof > today:
        raise DataError(f"{asof} is in the future (today is {today})")
    day = dt.date.fromisoformat(str(days[asof_index(days, asof)]))
    if (asof - day).days > ASOF_GRACE_DAYS:
        raise DataError(
            f"{asof}: the last price on or before it is {day}, more than "
            f"{ASOF_GRACE_DAYS} days earlier (the data does not reach {asof})"
        )
    return day


def windows_asof(
    cube: FeatureCube, asof: dt.date, window: int, scaler: Scaler | None = None
) -> AsofWindows:
    """Every asset's window ending on the last date on or before ``asof``.

    Parameters
    ----------
    cube : FeatureCube
    asof : datetime.date
    window : int
        Days per window.
    scaler : Scaler, optional
        Applied to the windows when given.
    """
    t = asof_index(cube.dates, asof)
    day = cube.dates[t].item()
    if t + 1 < window:
        return AsofWindows(
            day, (), np.empty((0, window, cube.values.shape[2]), np.float32), cube.tickers
        )
    block = cube.values[t - window + 1 : t + 1].transpose(1, 0, 2)
    ok = np.isfinite(block).all(axis=(1, 2))
    values = np.ascontiguousarray(block[ok])
    if scaler is not None:
        values = scaler.transform(values)
    tickers = tuple(np.asarray(cube.tickers, dtype=object)[ok])
    skipped = tuple(np.asarray(cube.tickers, dtype=object)[~ok])
    return AsofWindows(day, tickers, values, skipped)


def window_end_indices(
    cube: FeatureCube, window: int, start: dt.date | None, end: dt.date | None, stride: int = 1
) -> np.ndarray:
    """Indices of window end days in ``[start, end]``, every ``stride`` days back from the last.

    Anchoring the stride at the period's end keeps the newest window in.
    """
    idx = np.flatnonzero(date_mask(cube.dates, start, end))
    idx = idx[idx >= window - 1]
    return idx[::-1][::stride][::-1]


def _complete(cube: FeatureCube, window: int) -> np.ndarray:
    """``(T, N)``: whether the window ending on each day is fully finite."""
    bad_day = ~np.isfinite(cube.values).all(axis=2)
    bad = np.cumsum(bad_day, axis=0, dtype=np.int32)
    ok = np.zeros(bad.shape, dtype=bool)
    if bad.shape[0] >= window:
        before = np.vstack([np.zeros((1, bad.shape[1]), np.int32), bad[:-window]])
        ok[window - 1 :] = bad[window - 1 :] == before
    return ok


def training_windows(
    cube: FeatureCube,
    window: int,
    start: dt.date | None,
    end: dt.date | None,
    *,
    stride: int = 1,
    scaler: Scaler | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """All complete windows whose last day lies in ``[start, end]``, or a sample of them.

    Parameters
    ----------
    cube : FeatureCube
    window : int
    start, end : datetime.date or None
        Bounds on the window END day; a window may start before ``start``.
    stride : int
        Days between the end days of consecutive windows of one asset.
    scaler : Scaler, optional
    limit : int, optional
        At most this many windows, drawn uniformly without replacement
        (seeded), so memory stays bounded however many assets there are.
    seed : int
        Seed of that draw.

    Returns
    -------
    numpy.ndarray
        ``(n, window, F)`` float32, ordered by end day, then by asset.
    """
    ends = window_end_indices(cube, window, start, end, stride)
    n_features = cube.values.shape[2]
    if ends.size == 0:
        return np.empty((0, window, n_features), np.float32)
    day, asset = np.nonzero(_complete(cube, window)[ends])
    if limit is not None and day.size > limit:
        pick = np.sort(np.random.default_rng(seed).choice(day.size, size=limit, replace=False))
        day, asset = day[pick], asset[pick]
    # A strided view: (T - window + 1, N, F, window) without copying; only the
    # chosen windows are gathered.
    view = np.lib.stride_tricks.sliding_window_view(cube.values, window, axis=0)
    picked = view[ends[day] - window + 1, asset].transpose(0, 2, 1)
    return scaler.transform(picked) if scaler is not None else np.ascontiguousarray(picked)
