"""A backtest's report kept in its folder, so that it can be drawn later: ``deepquant report``.

The backtest writes ``returns.csv``, ``weights.csv``, ``rebalances.csv`` and
``metrics.json`` for their readers; :data:`INPUTS` holds what the report
needs beside them (the last book and its tree, the ex-ante risk, the trades,
cluster stability, the frontier, the risk-free series, the settings and the
facts of the run). :func:`read_report` rebuilds the :class:`Report` from the
five files, and drawing it gives the charts and report the run would have
drawn, to the byte (tested).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from backtest.frontier import Frontier
from backtest.rebalances import SCHEMA as REBALANCES
from backtest.report_data import Book, Report, RunFacts, assemble
from backtest.risk import TargetRisk
from shared.atomic import atomic_write_text
from shared.config import Settings
from shared.errors import DataError

__all__ = ["INPUTS", "read_report", "save_inputs"]

#: The report's inputs beside the backtest's own files.
INPUTS = "report_inputs.json"
#: Its layout; a file of another is refused.
SCHEMA = 1

_WEIGHTS = {"date": pl.Date, "ticker": pl.String, "weight": pl.Float64, "cluster": pl.Int64}
_DTYPES = {"Date": pl.Date, "Float64": pl.Float64, "Int64": pl.Int64, "String": pl.String}


def _floats(values: Any) -> list[float | None]:
    # Strict JSON has no NaN: an undefined number is null, and NaN again when read.
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _frame_json(frame: pl.DataFrame) -> dict[str, Any]:
    columns = {}
    for name, series in frame.to_dict().items():
        kind = str(series.dtype)
        if kind == "Float64":
            values: list[Any] = _floats(series.to_numpy())
        elif kind == "Date":
            values = [d.isoformat() for d in series.to_list()]
        else:
            values = series.to_list()
        columns[name] = {"dtype": kind, "values": values}
    return columns


def _frame(columns: dict[str, Any]) -> pl.DataFrame:
    series = []
    for name, col in columns.items():
        kind, values = col["dtype"], col["values"]
        if kind == "Date":
            values = [dt.date.fromisoformat(v) for v in values]
        elif kind == "Float64":
            values = _array(values)
        series.append(pl.Series(name, values, dtype=_DTYPES[kind]))
    return pl.DataFrame(series)


def _frontier_json(front: Frontier | None) -> dict[str, Any] | None:
    if front is None:
        return None
    arrays = ("returns", "vols", "sharpes", "curve_vols", "curve_returns")
    out: dict[str, Any] = {name: _floats(getattr(front, name)) for name in arrays}
    out["markers"] = {k: _floats(v) for k, v in front.markers.items()}
    return out


def _frontier(raw: dict[str, Any] | None) -> Frontier | None:
    if raw is None:
        return None
    markers = {k: (float(_array(v)[0]), float(_array(v)[1])) for k, v in raw["markers"].items()}
    return Frontier(
        weights=np.empty((0, 0)), returns=_array(raw["returns"]), vols=_array(raw["vols"]),
        sharpes=_array(raw["sharpes"]), curve_vols=_array(raw["curve_vols"]),
        curve_returns=_array(raw["curve_returns"]), markers=markers,
    )  # fmt: skip


def save_inputs(report: Report, folder: str | Path) -> Path:
    """Write :data:`INPUTS` for ``report`` into ``folder``; its path."""
    book, data, facts = report.book, report.data, report.facts
    record = {
        "schema": SCHEMA,
        "risk_free": _floats(report.risk_free),
        "periods_per_year": report.periods_per_year,
        "book": {
            "asof": book.asof.isoformat(), "weights": book.weights, "clusters": book.clusters,
            "linkage": [_floats(row) for row in book.linkage],
            "tree_rows": [int(i) for i in book.tree_rows], "bundles": list(book.bundles),
        },
        "ex_ante": {"vol": _floats([data.ex_ante.vol])[0], "contributions": {
            t: _floats([v])[0] for t, v in data.ex_ante.contributions.items()}},
        "trades": _frame_json(data.trades),
        "stability": _frame_json(data.stability),
        "regime": None if data.regime is None else _frame_json(data.regime),
        "frontier": _frontier_json(data.frontier),
        "settings": report.settings.model_dump(mode="json"),
        "facts": {**facts.__dict__, "start": facts.start.isoformat(), "end": facts.end.isoformat(),
                  "data_first": facts.data_first.isoformat(),
                  "data_last": facts.data_last.isoformat(), "notes": list(facts.notes)},
        "classes": report.classes,
    }  # fmt: skip
    return atomic_write_text(Path(folder) / INPUTS, json.dumps(record) + "\n")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(f"{path.parent}: no {path.name} (not a finished backtest folder)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None


def _book(raw: dict[str, Any]) -> Book:
    return Book(
        asof=dt.date.fromisoformat(raw["asof"]),
        weights={t: float(w) for t, w in raw["weights"].items()},
        clusters={t: int(c) for t, c in raw["clusters"].items()},
        linkage=np.array([_array(row) for row in raw["linkage"]]).reshape(-1, 4),
        tree_rows=np.array(raw["tree_rows"], dtype=np.int64),
        bundles=tuple(raw["bundles"]),
    )


def _facts(raw: dict[str, Any]) -> RunFacts:
    days = {k: dt.date.fromisoformat(raw[k]) for k in ("start", "end", "data_first", "data_last")}
    return RunFacts(**{**raw, **days, "notes": tuple(raw["notes"])})


def _tables(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    for name in ("returns.csv", "weights.csv", "rebalances.csv"):
        if not (folder / name).is_file():
            raise DataError(f"{folder}: no {name} (not a finished backtest folder)")
    returns = pl.read_csv(folder / "returns.csv", infer_schema_length=0)
    returns = returns.with_columns(
        pl.col("date").str.to_date(), pl.exclude("date").cast(pl.Float64)
    )
    weights = pl.read_csv(folder / "weights.csv", schema=_WEIGHTS)
    rebalances = pl.read_csv(folder / "rebalances.csv", schema=REBALANCES)
    return returns, weights, rebalances


def read_report(folder: str | Path) -> Report:
    """The :class:`Report` of the backtest whose files are in ``folder``.

    The frontier's random portfolios come back as their risk and return,
    which the chart draws, without their weights.

    Raises
    ------
    DataError
        A file is missing or unreadable, or of another layout.
    """
    folder = Path(folder)
    raw = _read_json(folder / INPUTS)
    if raw.get("schema") != SCHEMA:
        raise DataError(f"{folder / INPUTS}: layout {raw.get('schema')!r}, this reads {SCHEMA}")
    returns, weights, rebalances = _tables(folder)
    metrics = {
        series: {k: math.nan if v is None else v for k, v in values.items()}
        for series, values in _read_json(folder / "metrics.json").items()
    }
    book, risk_free, ppy = _book(raw["book"]), _array(raw["risk_free"]), raw["periods_per_year"]
    ex = raw["ex_ante"]
    shares = {t: float(_array([v])[0]) for t, v in ex["contributions"].items()}
    risk = TargetRisk(float(_array([ex["vol"]])[0]), shares)
    kept = (risk, book.clusters, _frame(raw["trades"]), _frame(raw["stability"]),
            _frontier(raw["frontier"]))  # fmt: skip
    regime = _frame(raw["regime"]) if raw.get("regime") else None
    data = assemble(returns, weights, rebalances, risk_free, ppy, raw["classes"], kept, regime)
    settings = Settings.model_validate(raw["settings"])
    return Report(
        returns, weights, rebalances, metrics, risk_free, ppy, book, data, settings,
        _facts(raw["facts"]), raw["classes"],
    )  # fmt: skip
