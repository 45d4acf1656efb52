"""``decide_asof``: the whole inference step for one date, as one pure function.

prices up to D -> features -> windows at D -> embeddings -> clusters
-> best asset per cluster -> weights. The cron job calls it once; the
backtest calls it at every rebalance date. Nothing dated after ``asof`` is
read: prices are cut at ``asof`` before anything else happens.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import polars as pl

from inferer.allocate import MethodResult
from inferer.cluster import Clustering, cluster_with, clustering_params
from inferer.construct import Portfolio, construct
from inferer.embed import Embedder
from inferer.memo import Memo, digest
from inferer.select import AssetStats, Selection, Signals, select_assets, signals
from shared.bundle import Bundle, check_features
from shared.config import InferenceSettings, Settings
from shared.errors import DataError
from shared.features import FeatureCube, compute_features
from shared.metrics import periods_per_year
from shared.returns import annual_risk_free, risk_free_returns, trailing_returns
from shared.same_frame import same_frame
from shared.scaling import Scaler
from shared.universe import UNKNOWN_CLASS
from shared.windows import asof_index, windows_asof


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
        Weights the construction rules cut (absolute filter, vol target).
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


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0


def cash_like_assets(
    returns: np.ndarray, tickers: Sequence[str], min_vol: float, ppy: float
) -> dict[str, str]:
    """Assets whose trailing annualised volatility is below ``min_vol``, with the reason.

    T-bill funds (BIL, SHV, SGOV, ...) have near-zero volatility, so any excess
    return over the risk-free rate, even noise, gives them a large Sharpe: they
    win their cluster and then take almost all of HRP's inverse-variance
    weight. They are cash, not investments to select; ``min_vol = 0`` turns
    the rule off.
    """
    if min_vol <= 0:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no vol, not cash
        vol = np.nanstd(returns, axis=0, ddof=1) * np.sqrt(ppy)
    return {
        t: f"cash-like: annual volatility {v:.2%} < min_vol {min_vol:.2%}"
        for t, v in zip(tickers, vol, strict=True)
        if v < min_vol
    }


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


def _cluster(embeddings: np.ndarray, cfg: InferenceSettings, memo: Memo | None) -> Clustering:
    """The clustering of ``embeddings``, from ``memo`` when computed before."""
    memo = memo if memo is not None else Memo(keep=False)
    key = digest(embeddings, *clustering_params(cfg).values())
    return memo.get("cluster", key, lambda: cluster_with(embeddings, cfg))


def decide(
    past: pl.DataFrame,
    tickers: Sequence[str],
    embeddings: np.ndarray,
    settings: Settings,
    timings: dict[str, float] | None = None,
    memo: Memo | None = None,
    *,
    incumbents: Collection[str] = (),
    classes: Mapping[str, str] | None = None,
    clustering: Clustering | None = None,
) -> Decision:
    """Cluster ``embeddings``, pick the best assets per cluster, and weight them.

    The half of the pipeline that does not care where embeddings come from:
    the autoencoder, or the correlation baseline of the backtest.

    Parameters
    ----------
    past : polars.DataFrame
        Prices up to the decision date only.
    tickers : sequence of str
        Row labels of ``embeddings``; all must be columns of ``past``.
    embeddings : numpy.ndarray
        ``(len(tickers), d)``.
    settings : Settings
    timings : dict, optional
        Filled with seconds for "cluster", "select" and "allocate".
    memo : Memo, optional
        Where a clustering of the same embeddings with the same settings may
        already be (:mod:`inferer.memo`).
    incumbents : collection of str
        Assets held before (selection hysteresis, ``keep_margin``).
    classes : mapping of str to str, optional
        Asset class of each ticker (``max_class_weight``).
    clustering : Clustering, optional
        Clusters given, not computed from ``embeddings`` (the backtest's
        asset-class and random-cluster baselines).
    """
    timings = {} if timings is None else timings
    cfg = settings.inference
    with _timed(timings, "cluster"):
        if clustering is None:
            clustering = _cluster(embeddings, cfg, memo)
    with _timed(timings, "select"):
        day = _day_view(past, tuple(tickers), cfg.lookback, cfg.risk_free, cfg.min_vol)
        selection = select_assets(
            day.returns[:, day.eligible],
            [t for t, ok in zip(tickers, day.eligible, strict=True) if ok],
            clustering.labels[day.eligible],
            rf_daily=day.rf,
            periods_per_year=day.ppy,
            min_history=cfg.min_history,
            top_n=None if cfg.top_n == "all" else cfg.top_n,
            signal=cfg.signal,
            incumbents=incumbents,
            keep_margin=cfg.keep_margin,
            stats=day.signals,
        )
        selection = replace(selection, skipped={**day.cash_like, **selection.skipped})
    with _timed(timings, "allocate"):
        portfolio = _construct(
            day.returns, tickers, clustering, selection, cfg, day.ppy, day.rf, classes
        )
    weights = _with_cash(selection.tickers, portfolio.weights, cfg.risk_free, past.columns)
    return Decision(clustering, selection, portfolio.result, day.ppy, weights, portfolio.notes)


class _Day(NamedTuple):
    """What selection reads of one day's prices, whatever the clustering."""

    ppy: float
    returns: np.ndarray
    rf: np.ndarray
    cash_like: dict[str, str]
    eligible: np.ndarray
    signals: Signals


@same_frame
def _day_view(
    past: pl.DataFrame, tickers: tuple[str, ...], lookback: int, risk_free: float | str,
    min_vol: float,
) -> _Day:  # fmt: skip
    # The strategy and the backtest's three cluster ablations rank the same day's assets.
    ppy = periods_per_year(past["date"].tail(lookback + 1).to_numpy())
    returns = trailing_returns(past, tickers, lookback)
    rf = risk_free_returns(past, risk_free, ppy, lookback)
    cash_like = cash_like_assets(returns, tickers, min_vol, ppy)
    eligible = np.array([t not in cash_like for t in tickers], dtype=bool)
    return _Day(ppy, returns, rf, cash_like, eligible, signals(returns[:, eligible], rf, ppy))


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
    excess = {s.ticker: s.excess_return for s in selection.stats}
    return construct(
        returns[:, idx],
        selection.tickers,
        groups,
        cfg,
        periods_per_year=ppy,
        risk_free_rate=annual_risk_free(rf, ppy),
        excess_returns=np.array([excess[t] for t in selection.tickers]),
        classes=None
        if classes is None
        else [classes.get(t, UNKNOWN_CLASS) for t in selection.tickers],
    )


def _embedded(inputs: np.ndarray, bundle: Bundle, embedder: Embedder, memo: Memo) -> np.ndarray:
    """Embeddings of ``inputs`` (scaled windows), from ``memo`` when computed before."""
    key = digest(bundle.manifest.model_sha256, inputs)
    return memo.get("embed", key, lambda: embedder.embed(inputs))


def _embed_day(
    cube: FeatureCube, day: dt.date, bundle: Bundle, embedder: Embedder, memo: Memo
) -> tuple[tuple[str, ...], np.ndarray]:
    """The tickers with a complete window on ``day`` and their embeddings."""
    manifest = bundle.manifest
    win = windows_asof(cube, day, manifest.window, Scaler.from_dict(manifest.scaler))
    return win.tickers, _embedded(win.values, bundle, embedder, memo)


def _mean_embeddings(
    inputs: np.ndarray,
    cube: FeatureCube,
    asof: dt.date,
    tickers: Sequence[str],
    bundle: Bundle,
    embedder: Embedder,
    memo: Memo,
    days: int,
) -> np.ndarray:
    """Rows of ``tickers``: the mean of each one's embeddings on the last ``days`` trading days.

    ``inputs`` are their windows on ``asof``. A day on which an asset has no
    complete window is left out of its mean; with ``days = 1`` the result is
    that day's embeddings, as they are.
    """
    today = _embedded(inputs, bundle, embedder, memo)
    if days == 1:
        return today
    t = asof_index(cube.dates, asof)
    row = {tk: i for i, tk in enumerate(tickers)}
    total = today.astype(np.float64)
    count = np.ones(len(tickers))
    for k in range(max(0, t - days + 1), t):
        names, emb = _embed_day(cube, cube.dates[k].item(), bundle, embedder, memo)
        for j, name in enumerate(names):
            if name in row:
                total[row[name]] += emb[j]
                count[row[name]] += 1
    return (total / count[:, None]).astype(np.float32)


def decide_asof(
    prices: pl.DataFrame,
    asof: dt.date,
    bundle: Bundle,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    features: FeatureCube | None = None,
    candidates: Sequence[str] | None = None,
    memo: Memo | None = None,
    incumbents: Collection[str] = (),
    classes: Mapping[str, str] | None = None,
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
    embedder : Embedder, optional
        A session for ``bundle`` to reuse across calls.
    features : FeatureCube, optional
        Features precomputed by :func:`shared.features.compute_features` on
        these prices (any end date): features are trailing, so those up to
        ``asof`` equal the ones computed from the cut prices. Saves the
        backtest recomputing them every month.
    candidates : sequence of str, optional
        Restrict the universe (default: every asset with a window).
    memo : Memo, optional
        Embeddings and clusterings computed before from the same inputs
        (:mod:`inferer.memo`): a research grid's variants share them.
    incumbents : collection of str
        Assets held before this date (selection hysteresis).
    classes : mapping of str to str, optional
        Asset class of each ticker (``max_class_weight``).

    Raises
    ------
    DataError
        No prices up to ``asof``, too few assets with a window or with enough
        history, or a missing risk-free ticker.
    """
    timings: dict[str, float] = {}
    cfg = settings.inference
    manifest = bundle.manifest
    check_features(manifest, settings.features, bundle.path)
    # Prices that already end on or before asof (a backtest's) are kept as they are: the
    # same frame lets the day's figures computed for the strategy serve its ablations.
    latest = prices["date"].max()
    ends_by_asof = isinstance(latest, dt.date) and latest <= asof
    past = prices if ends_by_asof else prices.filter(pl.col("date") <= asof)
    if past.height < 2:
        raise DataError(f"no prices on or before {asof}")

    with _timed(timings, "features"):
        # The windows of the last embed_days days are all inference reads; the averages
        # inside the features still see the whole history.
        last = manifest.window + cfg.embed_days - 1
        cube = (
            features
            if features is not None
            else compute_features(past, settings.features, last=last)
        )
    with _timed(timings, "windows"):
        win = windows_asof(cube, asof, manifest.window, Scaler.from_dict(manifest.scaler))
        keep = np.array([candidates is None or t in candidates for t in win.tickers], dtype=bool)
        tickers = tuple(t for t, k in zip(win.tickers, keep, strict=True) if k)
        skipped = {t: "no complete feature window" for t in win.skipped}
        if len(tickers) < 2:
            raise DataError(f"only {len(tickers)} asset(s) have a complete window on {asof}")
    with _timed(timings, "embed"):
        embedder = embedder if embedder is not None else Embedder(bundle, cfg.onnx_threads)
        memo = memo if memo is not None else Memo(keep=False)
        embeddings = _mean_embeddings(
            win.values[keep], cube, win.asof, tickers, bundle, embedder, memo, cfg.embed_days
        )
    decision = decide(
        past, tickers, embeddings, settings, timings, memo, incumbents=incumbents, classes=classes
    )
    skipped.update(decision.selection.skipped)
    return _allocation(decision, win.asof, tickers, embeddings, bundle, past, skipped, timings)


def _allocation(
    decision: Decision,
    asof: dt.date,
    tickers: Sequence[str],
    embeddings: np.ndarray,
    bundle: Bundle,
    past: pl.DataFrame,
    skipped: dict[str, str],
    timings: dict[str, float],
) -> AsofDecision:
    """The :class:`AsofDecision` record of one decision."""
    result, clustering = decision.result, decision.clustering
    return AsofDecision(
        asof=asof,
        # Largest first; the sort is stable, so ties keep the selection's order.
        weights=dict(sorted(decision.weights.items(), key=lambda kv: -kv[1])),
        method=result.method,
        method_used=result.method_used,
        fallback_reason=result.fallback_reason,
        clusters={t: int(c) for t, c in zip(tickers, clustering.labels, strict=True)},
        clustering=clustering,
        stats=decision.selection.stats,
        skipped=skipped,
        embeddings=embeddings,
        bundle_path=str(bundle.path),
        bundle_sha256=bundle.manifest.model_sha256,
        data_start=past["date"][0],
        periods_per_year=decision.periods_per_year,
        timings=timings,
        notes=decision.notes,
    )
