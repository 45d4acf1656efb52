"""``same_frame``: the last result for the very same frame and arguments, read-only."""

from __future__ import annotations

import doctest

import numpy as np
import polars as pl
import pytest

from shared import same_frame as module
from shared.same_frame import same_frame


def test_the_docstring_example() -> None:
    assert doctest.testmod(module).failed == 0


def test_same_object_and_arguments_only() -> None:
    calls: list[int] = []

    @same_frame
    def total(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, float]:
        calls.append(1)
        values = frame[column].to_numpy().copy()
        return values, float(values.sum())

    df = pl.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    first = total(df, "a")
    assert total(df, "a") is first and len(calls) == 1
    assert total(df, "b")[1] == 7.0 and len(calls) == 2
    # Equal content, another object: computed again (identity is the key, not content).
    assert total(df.clone(), "b")[1] == 7.0 and len(calls) == 3
    # One entry: the last call's.
    total(df, "a")
    assert len(calls) == 4
    values, _ = total(df, "a")
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 9.0
