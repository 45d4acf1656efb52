"""The worst drawdowns of a return series: when each began, bottomed and recovered.

An episode runs from a peak of wealth (the last close at the running
maximum) through its trough to the recovery, the first close back at or
above the peak. ``length`` counts trading days from peak to recovery, or to
the last date for an episode not yet recovered (``recovery`` null).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["worst_drawdowns"]

SCHEMA = {
    "start": pl.Date,
    "trough": pl.Date,
    "recovery": pl.Date,
    "depth": pl.Float64,
    "length": pl.Int64,
}


def worst_drawdowns(
    dates: npt.ArrayLike, returns: npt.ArrayLike, start: dt.date, n: int = 5
) -> pl.DataFrame:
    """The ``n`` deepest drawdown episodes, deepest first.

    Parameters
    ----------
    dates : array_like of dates
        Date of each return.
    returns : array_like
        Daily simple returns; NaN counts as a flat day.
    start : datetime.date
        The close before the first return (wealth 1 there): the peak of an
        episode that starts with the first day's loss.
    n : int
        Episodes to keep.

    Returns
    -------
    polars.DataFrame
        ``start``, ``trough``, ``recovery``, ``depth`` (<= 0, from the peak)
        and ``length`` (trading days), one row per episode.
    """
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64), nan=0.0)
    days = pl.Series(np.asarray(dates).astype("datetime64[D]")).cast(pl.Date).to_list()
    day = [start, *days]
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(wealth)
    under = wealth < peak
    rows = []
    edges = np.flatnonzero(np.diff(np.r_[0, under.astype(np.int8), 0]))
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):  # underwater on [lo, hi)
        trough = lo + int(np.argmin(wealth[lo:hi]))
        recovered = hi < wealth.size
        rows.append(
            {
                "start": day[lo - 1],
                "trough": day[trough],
                "recovery": day[hi] if recovered else None,
                "depth": float(wealth[trough] / peak[trough] - 1.0),
                "length": (hi if recovered else wealth.size - 1) - (lo - 1),
            }
        )
    rows.sort(key=lambda row: row["depth"])
    return pl.DataFrame(rows[:n], schema=SCHEMA)
