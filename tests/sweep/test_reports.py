"""sweep.reports: the best variant is the highest mean Sharpe ratio; only what is asked is drawn."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
import pytest

from sweep.reports import REPORTS, best_variant


class _Grid:
    variants: ClassVar[dict[str, dict[str, object]]] = {"a": {}, "b": {}, "c": {}}


def _results(rows: list[tuple[str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["variant", "series", "sharpe"], orient="row")


def test_the_best_variant_has_the_highest_mean_sharpe() -> None:
    rows = [("a", "strategy", 0.5), ("a", "strategy", 0.9), ("b", "strategy", 0.8),
            ("b", "strategy", 0.7), ("c", "strategy", 0.1), ("c", "benchmark", 3.0)]  # fmt: skip
    assert best_variant(_results(rows), _Grid()) == "b"  # 0.75 > 0.70 > 0.10


def test_a_tie_goes_to_the_first_variant_and_nan_never_wins() -> None:
    rows = [("a", "strategy", float("nan")), ("b", "strategy", 0.4), ("c", "strategy", 0.4)]
    assert best_variant(_results(rows), _Grid()) == "b"


def test_the_values_of_reports() -> None:
    assert REPORTS == ("best", "all", "none")
    with pytest.raises(ValueError, match="reports must be one of"):
        from sweep.reports import draw

        draw(_Grid(), None, _results([]), "some")  # type: ignore[arg-type]
