"""The inference job's files: ``weights_<asof>.csv``, ``trades_<asof>.csv``, ``run_<asof>.json``.

Each is written through a temporary file and a rename, so a killed run
leaves either the previous files or the new ones, never half a file.
Re-running the same as-of date with the same inputs rewrites the CSV byte for
byte; the JSON differs only in ``created`` and ``timings``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from inferer.pipeline import AsofDecision
from inferer.stable import Previous
from inferer.trades import Holdings, Orders
from shared import __version__
from shared.atomic import atomic_write_text
from shared.universe import Universe

CSV_COLUMNS = ("asof", "ticker", "weight", "cluster", "asset_class", "method")
_WEIGHTS_FILE = re.compile(r"^weights_(\d{4}-\d{2}-\d{2})\.csv$")
_RUN_FILE = re.compile(r"^run_(\d{4}-\d{2}-\d{2})\.json$")


def weights_name(asof: dt.date) -> str:
    """The weights CSV of one as-of date, the file downstream jobs wait for."""
    return f"weights_{asof.isoformat()}.csv"


def weights_frame(alloc: AsofDecision, universe: Universe) -> pl.DataFrame:
    """One row per held asset, largest weight first."""
    tickers = list(alloc.weights)
    return pl.DataFrame(
        {
            "asof": [alloc.asof] * len(tickers),
            "ticker": tickers,
            "weight": [alloc.weights[t] for t in tickers],
            "cluster": [alloc.clusters.get(t, -1) for t in tickers],
            "asset_class": [universe.class_of(t) for t in tickers],
            "method": [alloc.method_used] * len(tickers),
        },
        # Typed even with no row: the regime layer may hold the whole book in cash.
        schema={
            "asof": pl.Date,
            "ticker": pl.String,
            "weight": pl.Float64,
            "cluster": pl.Int64,
            "asset_class": pl.String,
            "method": pl.String,
        },
    )


def _finite(x: float) -> float | None:
    """JSON has no NaN: an undefined statistic is null."""
    return x if x == x else None


def _candidates(alloc: AsofDecision) -> list[dict[str, Any]]:
    """Every candidate's trailing statistics (null where one is undefined)."""
    return [
        {
            "ticker": s.ticker,
            "cluster": s.cluster,
            "sharpe": _finite(s.sharpe),
            "momentum": _finite(s.momentum),
            "excess_return": _finite(s.excess_return),
            "ann_return": s.ann_return,
            "ann_vol": s.ann_vol,
            "n_obs": s.n_obs,
        }
        for s in alloc.stats
    ]


def run_record(
    alloc: AsofDecision, *, config_digest: str, requested_asof: dt.date | None, data_end: dt.date
) -> dict[str, Any]:
    """The run manifest: model, data, clusters, selection, fallbacks and timings."""
    members: dict[int, list[str]] = {}
    for ticker, label in alloc.clusters.items():
        members.setdefault(label, []).append(ticker)
    return {
        "asof": alloc.asof.isoformat(),
        "requested_asof": requested_asof.isoformat() if requested_asof else None,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "deepquant_version": __version__,
        "config_digest": config_digest,
        "bundle": {"path": alloc.bundle_path, "sha256": alloc.bundle_sha256},
        "data": {
            "first_date": alloc.data_start.isoformat(),
            "last_date_used": alloc.asof.isoformat(),
            "last_date_available": data_end.isoformat(),
            "periods_per_year": alloc.periods_per_year,
        },
        "allocation": {
            "method": alloc.method,
            "method_used": alloc.method_used,
            "fallback_reason": alloc.fallback_reason,
            "weights": alloc.weights,
            # Weight the rules moved to cash (absolute filter, vol target, regime), and why.
            "construction_notes": alloc.notes,
            # The book before the regime layer moved it (equal to weights with it off).
            "risky_weights": alloc.risky_weights,
        },
        # The market's regime read on the date: model, probability of stress, share of
        # the risky book kept, and the current spell (first day, trading days).
        "regime": alloc.regime.to_dict() if alloc.regime else None,
        "clusters": [
            {
                "id": label,
                "members": sorted(members[label]),
                "selected": [t for t in alloc.weights if alloc.clusters.get(t) == label],
            }
            for label in sorted(members)
        ],
        "n_clusters": alloc.clustering.n_clusters,
        # When these clusters were built: the date, or an earlier one whose clusters
        # [inference] recluster kept; the next run reads them (previous_clusters).
        "clustered_on": (alloc.clustered_on or alloc.asof).isoformat(),
        "silhouette": alloc.clustering.silhouette,
        "silhouette_by_k": {str(k): v for k, v in alloc.clustering.scores.items()},
        "tree_assets": int(alloc.clustering.tree_rows.size),
        "silhouette_assets": alloc.clustering.silhouette_assets,
        "candidates": _candidates(alloc),
        "skipped": alloc.skipped,
        "timings": alloc.timings,
    }


def write_outputs(
    alloc: AsofDecision,
    out_dir: str | Path,
    universe: Universe,
    *,
    config_digest: str,
    requested_asof: dt.date | None = None,
    data_end: dt.date | None = None,
    orders: Orders | None = None,
    dropped: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``weights_<asof>.csv`` and ``run_<asof>.json`` into ``out_dir``; return their paths.

    With ``orders``, ``trades_<asof>.csv`` too, and their turnover and cost in
    the JSON; ``dropped`` (assets cleaning left out, with the reason) goes
    into the JSON.
    """
    out = Path(out_dir)
    stem = alloc.asof.isoformat()
    record = run_record(
        alloc,
        config_digest=config_digest,
        requested_asof=requested_asof,
        data_end=data_end or alloc.asof,
    )
    record["dropped"] = dict(dropped or {})
    if orders is not None:
        record["trades"] = orders.summary()
        atomic_write_text(out / f"trades_{stem}.csv", orders.trades.write_csv())
    # JSON first: the CSV is what downstream jobs wait for, so it lands last.
    run_path = atomic_write_text(
        out / f"run_{stem}.json", json.dumps(record, indent=2, allow_nan=False) + "\n"
    )
    csv_path = atomic_write_text(
        out / weights_name(alloc.asof), weights_frame(alloc, universe).write_csv()
    )
    return csv_path, run_path


def previous_weights(out: Path, asof: dt.date) -> Holdings:
    """What the job last decided: the newest ``weights_<date>.csv`` in ``out`` dated on or
    before ``asof``, as holdings; none: all cash."""
    dated = sorted(
        (dt.date.fromisoformat(m[1]), p)
        for p in (out.iterdir() if out.is_dir() else ())
        if (m := _WEIGHTS_FILE.match(p.name))
    )
    earlier = [p for day, p in dated if day <= asof]
    if not earlier:
        return Holdings({}, "none (all cash)")
    table = pl.read_csv(earlier[-1])
    weights = dict(zip(table["ticker"].to_list(), table["weight"].to_list(), strict=True))
    return Holdings({str(t): float(w) for t, w in weights.items()}, earlier[-1].name)


def previous_clusters(out: Path, before: dt.date) -> Previous | None:
    """The clusters of the newest ``run_<date>.json`` in ``out`` dated before ``before``:
    what the stability settings read (:mod:`inferer.stable`); none when there is no run."""
    dated = sorted(
        (dt.date.fromisoformat(m[1]), p)
        for p in (out.iterdir() if out.is_dir() else ())
        if (m := _RUN_FILE.match(p.name))
    )
    earlier = [p for day, p in dated if day < before]
    if not earlier:
        return None
    record = json.loads(earlier[-1].read_text())
    labels = {str(t): int(c["id"]) for c in record["clusters"] for t in c["members"]}
    built = record.get("clustered_on", record["asof"])
    return Previous(dt.date.fromisoformat(built), labels)
