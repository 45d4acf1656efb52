"""Reuse a function's last result when it is asked again about the very same prices.

At each rebalance of a backtest, the strategy, its three cluster ablations
and four of the baselines each decide on the same day's prices (one polars
DataFrame object) and each needs the same trailing returns and per-asset
statistics of that day. A polars DataFrame cannot change, so the same
object holds the same data: the result of the last call with that object
and equal other arguments is the result. The frame is kept with it, so its
``id`` cannot pass to another frame while the result is remembered. The
arrays of a remembered result are made read-only: a caller that wrote into
one would change what the next caller gets.

Example
-------
>>> import polars as pl
>>> calls = []
>>> @same_frame
... def height(frame, extra):
...     calls.append(1)
...     return frame.height + extra
>>> df = pl.DataFrame({"a": [1, 2]})
>>> height(df, 1), height(df, 1), height(df, 2), len(calls)
(3, 3, 4, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import polars as pl

__all__ = ["same_frame"]

R = TypeVar("R")


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple):
        for item in value:
            _freeze(item)
    return value


def same_frame(fn: Callable[..., R]) -> Callable[..., R]:
    """``fn(frame, *args)``, remembered for its last ``frame`` (by identity) and ``args``."""
    last: list[tuple[pl.DataFrame, tuple[Any, ...], R]] = []

    @functools.wraps(fn)
    def wrapper(frame: pl.DataFrame, *args: Any) -> R:
        if last and last[0][0] is frame and last[0][1] == args:
            return last[0][2]
        result = _freeze(fn(frame, *args))
        last[:] = [(frame, args, result)]
        return result

    return wrapper
