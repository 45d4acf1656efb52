"""``decide_asof``: the whole inference step for one date, as one pure function.

prices up to D -> features -> windows at D -> embeddings -> clusters
-> best asset per cluster -> weights. The cron job calls it once; the
backtest calls it at every rebalance date. Nothing dated after ``asof`` is
read: prices are cut at ``asof`` before anything else happens.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from inferer.allocate import MethodResult
from inferer.cluster import Clustering
from inferer.construct import Portfolio, construct
from inferer.day import Day, day_of
from inferer.embed import side_by_side
from inferer.run import Run
from inferer.select import AssetStats, Selection, select_assets
from inferer.stable import Previous, stabilised, sticky_k
from shared.bundle import Bundle, check_features
from shared.config import InferenceSettings, Settings
from shared.errors import DataError
from shared.features import FeatureCube
from shared.returns import annual_risk_free
from shared.scaling import Scaler
from shared.universe import UNKNOWN_CLASS
from shared.windows import asof_index, windows_asof

if TYPE_CHECKING:
    from inferer.regime import Reading, Regimes

log = logging.getLogger("deepquant.infer")


@dataclass(frozen=True)
class AsofDecision:
    """Everything decided on one date, and why.

    Attributes
    ----------
    asof : datetime.date
        The last date with prices on or before the requested date.
    weights : dict of str to float
        Held assets and their weights, largest first: the picks, and the
        risk-free proxy when rules put weight in cash and it is a ticker.
        Sums to 1, or less when cash has no ticker.
    method, method_used : str
        Method asked for, and the one that produced the weights.
    fallback_reason : str or None
        Why the requested method failed, if it did.
    clusters : dict of str to int
        Cluster of every embedded asset.
    clustering : Clustering
        Labels, linkage (for the dendrogram) and silhouette scores.
    stats : tuple of AssetStats
        Trailing statistics of every candidate.
    skipped : dict of str to str
        Assets left out, with the reason.
    embeddings : numpy.ndarray
        ``(len(clusters), latent)``, rows in ``clusters`` order.
    bundle_path, bundle_sha256 : str
        The model used.
    data_start : datetime.date
        First date of the prices the decision could see.
    periods_per_year : float
        Calendar used to annualise.
    timings : dict of str to float
        Seconds per step.
    notes : dict of str to str
        Weights the construction rules cut (absolute filter, vol target),
        and the regime layer's move.
    risky_weights : dict of str to float
        The book as constructed, before the regime layer (``weights`` when it is off).
    regime : Reading or None
        The market's regime on the date (:mod:`inferer.regime`); None when the layer is off.
    clustered_on : datetime.date or None
        When its clusters were built: ``asof``, or an earlier date whose clusters
        ``[inference] recluster`` kept (:mod:`inferer.stable`).
    day : Day
        What the decision read of the date's prices (:mod:`inferer.day`).
    """

    asof: dt.date
    weights: dict[str, float]
    method: str
    method_used: str
    fallback_reason: str | None
    clusters: dict[str, int]
    clustering: Clustering
    stats: tuple[AssetStats, ...]
    skipped: dict[str, str]
    embeddings: np.ndarray
    bundle_path: str
    bundle_sha256: str
    data_start: dt.date
    periods_per_year: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    risky_weights: dict[str, float] = field(default_factory=dict)
    regime: Reading | None = None
    clustered_on: dt.date | None = None
    #: The date's prices and figures the decision read: the backtest's cluster
    #: ablations decide on the same ones.
    day: Day | None = field(default=None, repr=False, compare=False)


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0


@dataclass(frozen=True)
class Decision:
    """Clusters, selection and weights for one set of embeddings.

    ``weights``: ticker -> weight, the risk-free proxy holding what the rules
    put in cash when it is a ticker (else they sum to less than 1);
    ``result``: the allocation across clusters.
    """

    clustering: Clustering
    selection: Selection
    result: MethodResult
    periods_per_year: float
    weights: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: Seconds of "cluster", "select" and "allocate".
    timings: dict[str, float] = field(default_factory=dict)
    #: When the clusters were built (before the date when ``[inference] recluster`` kept them).
    clustered_on: dt.date | None = None


def _with_cash(
    picks: Sequence[str], w: np.ndarray, risk_free: float | str, columns: Sequence[str]
) -> dict[str, float]:
    """Weights by ticker; the part left in cash goes to the risk-free proxy ticker."""
    weights: dict[str, float] = {}
    for ticker, x in zip(picks, w, strict=True):
        if x > 0:
            weights[ticker] = weights.get(ticker, 0.0) + float(x)
    rest = 1.0 - float(w.sum())
    if rest > 1e-12 and isinstance(risk_free, str) and risk_free in columns:
        weights[risk_free] = weights.get(risk_free, 0.0) + rest
    return weights


def decide(
    day: Day,
    embeddings: np.ndarray,
    settings: Settings,
    run: Run,
    *,
    incumbents: Collection[str] = (),
    classes: Mapping[str, str] | None = None,
    previous: Previous | None = None,
) -> Decision:
    """Cluster ``embeddings`` (rows: ``day.tickers``), then :func:`decide_clustered`.

    The half of the pipeline that does not care where embeddings come from:
    the autoencoder, or the correlation baseline of the backtest. ``previous``:
    the last decision's clusters, which the stability settings read
    (:mod:`inferer.stable`).
    """
    timings: dict[str, float] = {}
    cfg, asof = settings.inference, day.past["date"][-1]
    with _timed(timings, "cluster"):
        clustering = run.cluster(embeddings, cfg)
        k = None if previous is None else sticky_k(clustering, previous, cfg.k_margin)
        recut = (
            None if k is None else run.cluster(embeddings, cfg.model_copy(update={"n_clusters": k}))
        )
        clustering, built = stabilised(
            clustering, recut, previous, day.tickers, embeddings, cfg, asof
        )
    decision = decide_clustered(day, clustering, settings, incumbents=incumbents, classes=classes)
    return replace(decision, timings={**timings, **decision.timings}, clustered_on=built)


def decide_clustered(
    day: Day,
    clustering: Clustering,
    settings: Settings,
    *,
    incumbents: Collection[str] = (),
    classes: Mapping[str, str] | None = None,
) -> Decision:
    """Pick the best assets of each cluster and weight them.

    Parameters
    ----------
    day : Day
        The decision date's prices and figures for ``day.tickers``
        (:func:`inferer.day.day_of`).
    clustering : Clustering
        Labels of ``day.tickers``: from their embeddings, or given (the
        backtest's asset-class and random-cluster baselines).
    settings : Settings
    incumbents : collection of str
        Assets held before (selection hysteresis, ``keep_margin``).
    classes : mapping of str to str, optional
        Asset class of each ticker (``max_class_weight``).
    """
    timings: dict[str, float] = {}
    cfg, tickers = settings.inference, day.tickers
    with _timed(timings, "select"):
        selection = select_assets(
            day.signals,
            [t for t, ok in zip(tickers, day.eligible, strict=True) if ok],
            clustering.labels[day.eligible],
            min_history=cfg.min_history,
            top_n=None if cfg.top_n == "all" else cfg.top_n,
            signal=cfg.signal,
            incumbents=incumbents,
            keep_margin=cfg.keep_margin,
        )
        selection = replace(selection, skipped={**day.cash_like, **selection.skipped})
    with _timed(timings, "allocate"):
        portfolio = _construct(
            day.returns, tickers, clustering, selection, cfg, day.ppy, day.rf, classes
        )
    weights = _with_cash(selection.tickers, portfolio.weights, cfg.risk_free, day.past.columns)
    notes = {**day.notes, **portfolio.notes}
    return Decision(clustering, selection, portfolio.result, day.ppy, weights, notes, timings)


def _construct(
    returns: np.ndarray,
    tickers: Sequence[str],
    clustering: Clustering,
    selection: Selection,
    cfg: InferenceSettings,
    ppy: float,
    rf: np.ndarray,
    classes: Mapping[str, str] | None,
) -> Portfolio:
    """:func:`inferer.construct.construct` on the selected columns."""
    column = {t: j for j, t in enumerate(tickers)}
    idx = [column[t] for t in selection.tickers]
    # Clusters renumbered 0 .. k - 1 in order of first pick.
    groups = np.unique(clustering.labels[idx], return_inverse=True)[1]
    return construct(
        returns[:, idx],
        selection.tickers,
        groups,
        cfg,
        periods_per_year=ppy,
        risk_free_rate=annual_risk_free(rf, ppy),
        excess_returns=selection.excess_returns(selection.tickers),
        classes=None
        if classes is None
        else [classes.get(t, UNKNOWN_CLASS) for t in selection.tickers],
    )


def _embed_day(
    cube: FeatureCube, k: int, row: Mapping[str, int], bundle: Bundle, run: Run
) -> tuple[np.ndarray, np.ndarray]:
    """Of the tickers in ``row`` (their rows), those with a complete window on the cube's
    ``k``-th day: their rows, and their embeddings that day."""
    manifest = bundle.manifest
    day = cube.dates[k].item()
    win = windows_asof(cube, day, manifest.window, Scaler.from_dict(manifest.scaler))
    emb = run.embed(bundle, win.values)
    kept = [j for j, name in enumerate(win.tickers) if name in row]
    return np.array([row[win.tickers[j]] for j in kept], dtype=np.int64), emb[kept]


def _mean_embeddings(
    inputs: np.ndarray,
    cube: FeatureCube,
    asof: dt.date,
    tickers: Sequence[str],
    bundle: Bundle,
    run: Run,
    days: int,
) -> np.ndarray:
    """Rows of ``tickers``: the mean of each one's embeddings on the last ``days`` trading days.

    ``inputs`` are their windows on ``asof``. A day on which an asset has no
    complete window is left out of its mean; with ``days = 1`` the result is
    that day's embeddings, as they are.
    """
    today = run.embed(bundle, inputs)
    if days == 1:
        return today
    t = asof_index(cube.dates, asof)
    row = {tk: i for i, tk in enumerate(tickers)}
    total = today.astype(np.float64)
    count = np.ones(len(tickers))
    for k in range(max(0, t - days + 1), t):
        rows, emb = _embed_day(cube, k, row, bundle, run)
        total[rows] += emb
        count[rows] += 1
    return (total / count[:, None]).astype(np.float32)


#: Trading days between the windows that ``[inference] smooth_months`` averages over.
MONTH = 21


def _smoothed(
    today: np.ndarray,
    cube: FeatureCube,
    asof: dt.date,
    tickers: Sequence[str],
    bundle: Bundle,
    run: Run,
    cfg: InferenceSettings,
) -> np.ndarray:
    """Rows whose squared distances are the mean over ``smooth_months`` monthly windows.

    Each earlier month's embeddings are that day's (:func:`_embed_day`); an
    asset without a complete window then counts today's in its place, so a
    new listing is clustered on what it has.
    """
    t = asof_index(cube.dates, asof)
    row = {tk: i for i, tk in enumerate(tickers)}
    parts = [today]
    for k in range(1, cfg.smooth_months):
        part = today.copy()
        if t - MONTH * k >= 0:
            rows, emb = _embed_day(cube, t - MONTH * k, row, bundle, run)
            part[rows] = emb
        parts.append(part)
    return side_by_side(parts)


def decide_asof(
    prices: pl.DataFrame,
    asof: dt.date,
    bundle: Bundle,
    settings: Settings,
    run: Run | None = None,
    *,
    incumbents: Collection[str] = (),
    classes: Mapping[str, str] | None = None,
    regimes: Regimes | None = None,
    previous: Previous | None = None,
) -> AsofDecision:
    """Decide the portfolio for ``asof`` from prices up to ``asof``.

    Parameters
    ----------
    prices : polars.DataFrame
        Cleaned wide prices (:func:`shared.prices.load_prices`); rows after
        ``asof`` are ignored.
    asof : datetime.date
    bundle : Bundle
        The encoder and its scaler; its features must match ``settings``.
    settings : Settings
    run : Run, optional
        What a run of many decisions reuses (:mod:`inferer.run`); by
        default a run of its own, for this one decision.
    incumbents : collection of str
        Assets held before this date (selection hysteresis).
    classes : mapping of str to str, optional
        Asset class of each ticker (``max_class_weight``).
    regimes : Regimes, optional
        The regime models a run of many dates reuses; by default, with the
        layer on, read from ``[regime] history`` or the panel's benchmark.
    previous : Previous, optional
        The last decision's clusters, for the stability settings
        (:mod:`inferer.stable`); none: clusters built afresh.

    Raises
    ------
    DataError
        No prices up to ``asof``, too few assets with a window or with enough
        history, a missing risk-free ticker, or (with the regime layer on) too
        little of the benchmark's history.
    """
    timings: dict[str, float] = {}
    cfg = settings.inference
    manifest = bundle.manifest
    check_features(manifest, settings.features, bundle.path)
    past = prices.filter(pl.col("date") <= asof)
    if past.height < 2:
        raise DataError(f"no prices on or before {asof}")

    with _timed(timings, "features"):
        # The windows of the last embed_days days are all inference reads; the averages
        # inside the features still see the whole history.
        last = manifest.window + max(cfg.embed_days - 1, MONTH * (cfg.smooth_months - 1))
        run = run if run is not None else Run(cfg.onnx_threads)
        cube = run.features(past, settings.features, last)
    with _timed(timings, "windows"):
        win = windows_asof(cube, asof, manifest.window, Scaler.from_dict(manifest.scaler))
        tickers = win.tickers
        skipped = {t: "no complete feature window" for t in win.skipped}
        if len(tickers) < 2:
            raise DataError(f"only {len(tickers)} asset(s) have a complete window on {asof}")
    with _timed(timings, "embed"):
        embeddings = _mean_embeddings(
            win.values, cube, win.asof, tickers, bundle, run, cfg.embed_days
        )
        if cfg.smooth_months > 1:
            embeddings = _smoothed(embeddings, cube, win.asof, tickers, bundle, run, cfg)
    # The day's returns and signals are what selection reads: its time is selection's.
    with _timed(timings, "select"):
        day = day_of(past, tickers, cfg)
    decision = decide(
        day, embeddings, settings, run, incumbents=incumbents, classes=classes, previous=previous
    )
    skipped.update(decision.selection.skipped)
    record = _record(decision, win.asof, day, embeddings, bundle, skipped, timings)
    if settings.regime.enabled:
        # Imported here: with the layer off (the default) the cron job loads none of it.
        from inferer.regime import Regimes
        from shared.regime import regime_history

        with _timed(record.timings, "regime"):
            regimes = regimes or Regimes(regime_history(settings, prices), settings, run)
            record = _with_regime(record, regimes.read(bundle, win.asof), cfg, day)
    _log_decision(record, bundle, len(tickers), decision)
    return record


def _log_decision(
    record: AsofDecision, bundle: Bundle, candidates: int, decision: Decision
) -> None:
    """The ``-v`` line of a decision: its bundle, k, silhouette, picks, method and timings."""
    log.debug(
        "%s: bundle %s, %d candidates, k=%d, silhouette %s, picks %s, method %s%s; %s",
        record.asof, bundle.path.name, candidates, decision.clustering.n_clusters,
        f"{decision.clustering.silhouette:.3f}" if decision.clustering.silhouette else "n/a",
        ", ".join(decision.selection.tickers), record.method_used,
        f" (fallback: {record.fallback_reason})" if record.fallback_reason else "",
        ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in record.timings.items()),
    )  # fmt: skip


def _with_regime(
    record: AsofDecision, reading: Reading, cfg: InferenceSettings, day: Day
) -> AsofDecision:
    """The record with its book moved by the regime read on its date."""
    from inferer.regime import overlay

    weights = overlay(record.weights, reading.exposure, cfg.risk_free, day.past.columns)
    notes = dict(record.notes)
    if reading.exposure < 1:
        where = cfg.risk_free if isinstance(cfg.risk_free, str) else "cash"
        notes["regime"] = (
            f"{reading.model}: stressed (probability {reading.stress:.2f}) since "
            f"{reading.since}: {1 - reading.exposure:.0%} of the risky book moved to {where}"
        )
    return replace(record, weights=weights, notes=notes, regime=reading)


def _record(
    decision: Decision,
    asof: dt.date,
    day: Day,
    embeddings: np.ndarray,
    bundle: Bundle,
    skipped: dict[str, str],
    timings: dict[str, float],
) -> AsofDecision:
    """The :class:`AsofDecision` record of one decision."""
    result, clustering = decision.result, decision.clustering
    select = timings["select"] + decision.timings["select"]
    return AsofDecision(
        asof=asof,
        # Largest first; the sort is stable, so ties keep the selection's order.
        weights=dict(sorted(decision.weights.items(), key=lambda kv: -kv[1])),
        method=result.method,
        method_used=result.method_used,
        fallback_reason=result.fallback_reason,
        clusters={t: int(c) for t, c in zip(day.tickers, clustering.labels, strict=True)},
        clustering=clustering,
        stats=decision.selection.stats,
        skipped=skipped,
        embeddings=embeddings,
        bundle_path=str(bundle.path),
        bundle_sha256=bundle.manifest.model_sha256,
        data_start=day.past["date"][0],
        periods_per_year=decision.periods_per_year,
        timings={**timings, **decision.timings, "select": select},
        notes=decision.notes,
        risky_weights=dict(decision.weights),
        clustered_on=decision.clustered_on or asof,
        day=day,
    )
