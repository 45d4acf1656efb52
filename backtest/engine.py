"""Walk-forward backtest: the inference job replayed at every past rebalance date.

At each rebalance date D (the last trading day on or before ``start``, then
the last of each week, month or quarter) the strategy calls
:func:`inferer.pipeline.decide_asof` with the newest bundle trained on
prices up to D at the latest, and prices up to D; the weights trade
``execution_lag`` trading days later. The baselines
(:mod:`backtest.baselines`) are decided on the same dates from the same
prices, pay the same costs, and show what the autoencoder adds.

The benchmark (SPY by default) is held, not traded. Holding, drift and cost
rules are in :mod:`backtest.accounting`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

# A backtest builds two trees and an HRP order at each of a hundred rebalances:
# with SciPy's trees loaded, inferer.linkage uses them (the same floats, tested),
# which the cron job, deciding once, does not load.
import scipy.cluster.hierarchy  # noqa: F401

from backtest.accounting import (
    asset_returns,
    held_returns,
    rebalance_indices,
    simulate,
    trade_indices,
)
from backtest.baselines import BASELINES, Context, unavailable, weight_vector
from backtest.rebalances import decided_row, kept_row, rebalances_frame, switch_row
from backtest.regime_layer import (
    LAYERED,
    TREND,
    Layer,
    as_weights,
    daily_exposure,
    daily_stress,
    layered_name,
    schedule,
    switches,
)
from backtest.risk import TargetRisk, target_risk
from backtest.stability import adjusted_rand
from backtest.statistics import sharpe_statistics
from backtest.turnover_split import moved_names, split_switch, split_trade
from inferer.day import Day, all_assets_of
from inferer.memo import Memo
from inferer.pipeline import AsofDecision, decide_asof
from inferer.regime import Regimes, exposure_of, overlay
from inferer.run import Run
from inferer.stable import Previous
from inferer.trading import execute
from shared.bundle import Bundle, find_bundle, is_bundle, list_bundles
from shared.config import BacktestSettings, Settings
from shared.errors import DataError
from shared.features import compute_features
from shared.metrics import annual_turnover, periods_per_year, summary
from shared.regime import History, regime_history
from shared.returns import risk_free_returns

log = logging.getLogger("deepquant.backtest")

Progress = Callable[[int, int, dt.date], None]


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced.

    Attributes
    ----------
    returns : polars.DataFrame
        ``date``, ``strategy``, ``benchmark``, then one column per baseline:
        net daily simple returns from the trading day after the first trade.
    weights : polars.DataFrame
        ``date`` (rebalance), ``ticker``, ``weight``, ``cluster`` of the strategy.
    rebalances : polars.DataFrame
        One row per rebalance of the strategy (:mod:`backtest.rebalances`).
    metrics : dict
        Series name -> :func:`shared.metrics.summary`.
    allocations : tuple of AsofDecision
        The strategy's decision at each rebalance.
    turnover, costs : dict
        Series name -> per-rebalance one-way turnover and cost (fraction of wealth).
    held : numpy.ndarray
        ``(rebalances, assets)`` drifted weights of the strategy just before
        each rebalance, columns in the order of the price columns.
    periods_per_year : float
        Calendar of the returns, used to annualise.
    risk_free : numpy.ndarray
        Per-day risk-free return on the dates of ``returns``: what every
        Sharpe ratio of the run is measured over.
    ex_ante : TargetRisk
        The ex-ante risk of the book after the last rebalance (the last row
        of ``rebalances``' ``ex_ante_vol``, with each asset's contribution).
    regime : polars.DataFrame or None
        With the regime layer on: ``date``, ``stress`` (probability of the
        stressed state) and ``exposure`` (share of the risky book kept) of
        the strategy on each date of ``returns``, read at that date's close
        by the bundle in use.
    notes : list of str
        Baselines left out, and dates where a decision failed and the
        previous weights were kept.
    timings : dict
        Seconds per phase.
    """

    returns: pl.DataFrame
    weights: pl.DataFrame
    rebalances: pl.DataFrame
    metrics: dict[str, dict[str, float]]
    allocations: tuple[AsofDecision, ...]
    turnover: dict[str, np.ndarray]
    costs: dict[str, np.ndarray]
    held: np.ndarray
    periods_per_year: float
    risk_free: np.ndarray
    ex_ante: TargetRisk
    regime: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Regimes:
    """The run's regime readings: the configured model's, and the trend rule's."""

    model: Regimes
    trend: Regimes


def _regimes_of(
    prices: pl.DataFrame, settings: Settings, history: History | None, run: Run
) -> _Regimes | None:
    if not settings.regime.enabled:
        return None
    history = history or regime_history(settings, prices)
    trend = settings.regime.model_copy(
        update={"model": "trend", "exposure": "state", "features": "returns"}
    )
    trend_settings = settings.model_copy(update={"regime": trend})
    return _Regimes(Regimes(history, settings, run), Regimes(history, trend_settings, run))


@dataclass
class _Decisions:
    """Target weights of every portfolio at each rebalance, and the strategy's records."""

    targets: dict[str, list[np.ndarray]]
    allocations: list[AsofDecision] = field(default_factory=list)
    rows: list[dict[str, object]] = field(default_factory=list)
    rebalances: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The ex-ante risk of the last rebalance's book.
    ex_ante: TargetRisk | None = None
    #: The bundle of each rebalance.
    bundles: list[Bundle] = field(default_factory=list)
    #: The strategy's clustering at each rebalance (None where it kept its book).
    clusterings: list[dict[str, int] | None] = field(default_factory=list)
    #: Each portfolio the regime layer acts on: its risky books and exposures.
    layers: dict[str, Layer] = field(default_factory=dict)
    regimes: _Regimes | None = None

    def keep_previous(self, name: str, day: dt.date, err: Exception) -> None:
        """A failed decision keeps the previous weights; the first one cannot."""
        if not self.targets[name]:
            raise DataError(f"{name} baseline failed on {day}: {err}") from None
        self.notes.append(f"{day}: {name} kept its previous weights ({err})")
        self.targets[name].append(self.targets[name][-1])


def _bundle_for(
    model: str | Path, day: dt.date, settings: Settings, catalog: list[Bundle] | None
) -> Bundle:
    bundle = find_bundle(model, day, features=settings.features, bundles=catalog)
    if bundle.manifest.train_end_date > day:
        raise DataError(
            f"model {bundle.path} was trained on data up to {bundle.manifest.train_end}, "
            f"after rebalance date {day}: use a bundle trained on earlier prices, or a series "
            "of them"
        )
    return bundle


def _decide_strategy(
    out: _Decisions,
    past: pl.DataFrame,
    day: dt.date,
    bundle: Bundle,
    run: Run,
    settings: Settings,
    tickers: list[str],
    classes: Mapping[str, str],
    regimes: _Regimes | None,
) -> Day | None:
    """Decide the strategy on ``day``; return the figures it read (None: it kept its book)."""
    cfg = settings.inference
    # The live job's incumbents are the last weights file's tickers: the same here.
    held = tuple(out.allocations[-1].weights) if out.allocations else ()
    layer = out.layers.get("strategy")
    try:
        alloc = decide_asof(
            past, day, bundle, settings, run, incumbents=held, classes=classes,
            regimes=regimes.model if regimes else None, previous=_previous(out),
        )  # fmt: skip
    except DataError as err:
        if not out.targets["strategy"]:
            raise
        out.keep_previous("strategy", day, err)
        out.clusterings.append(None)
        if layer is not None:
            layer.add(layer.risky[-1], layer.applied[-1])
        kept = out.allocations[-1].weights
        ppy = periods_per_year(past["date"].tail(cfg.lookback + 1).to_numpy())
        out.ex_ante = target_risk(past, kept, cfg.lookback, ppy, cfg.covariance)
        row = kept_row(day, bundle.path, cfg.method, len(kept), str(err), out.ex_ante.vol)
        out.rebalances.append(row)
        return None
    # The record keeps the decision, not the date's prices and return windows.
    out.allocations.append(replace(alloc, day=None))
    out.clusterings.append(alloc.clusters)
    if layer is not None and alloc.regime is not None:
        layer.add(alloc.risky_weights, alloc.regime.exposure)
    out.ex_ante = target_risk(
        past, alloc.weights, cfg.lookback, alloc.periods_per_year, cfg.covariance
    )
    out.rebalances.append(decided_row(alloc, out.ex_ante.vol))
    out.targets["strategy"].append(weight_vector(alloc.weights, tickers))
    out.rows.extend(
        {"date": day, "ticker": tk, "weight": w, "cluster": alloc.clusters.get(tk, -1)}
        for tk, w in alloc.weights.items()
    )
    return alloc.day


def _previous(out: _Decisions) -> Previous | None:
    """The last decision's clusters, as the live job reads them from its last run."""
    if not out.allocations:
        return None
    last = out.allocations[-1]
    return Previous(last.clustered_on or last.asof, dict(last.clusters))


def _decide_baselines(out: _Decisions, ctx: Context, day: dt.date) -> None:
    for name in out.targets:
        if name not in BASELINES:  # the strategy, and the layered series
            continue
        previous = out.targets[name][-1] if out.targets[name] else np.zeros(len(ctx.tickers))
        held = [t for t, w in zip(ctx.tickers, previous, strict=True) if w > 0]
        try:
            out.targets[name].append(BASELINES[name](replace(ctx, held=held)))
        except DataError as err:  # a ValueError is a bug: it ends the run
            out.keep_previous(name, day, err)


def _layer_baselines(
    out: _Decisions, day: dt.date, bundle: Bundle, regimes: _Regimes, settings: Settings,
    tickers: list[str],
) -> None:  # fmt: skip
    """The layered baselines' targets on ``day``: the same overlay on their risky books."""
    rf = settings.inference.risk_free
    for name, layer in out.layers.items():
        if name == "strategy":
            continue
        if name == TREND:
            risky = {settings.data.benchmark: 1.0}
            exposure = float(regimes.trend.exposures(bundle, [day])[0])
        else:
            risky = as_weights(out.targets[name.removesuffix("_regime")][-1], tickers)
            exposure = float(regimes.model.exposures(bundle, [day])[0])
        layer.add(risky, exposure)
        out.targets[name].append(weight_vector(overlay(risky, exposure, rf, tickers), tickers))


def _context(
    out: _Decisions,
    past: pl.DataFrame,
    today: Day | None,
    tickers: list[str],
    settings: Settings,
    run: Run,
    classes: Mapping[str, str],
) -> Context:
    """What the baselines see on the date: the strategy's candidates and figures, every asset's."""
    last = out.allocations[-1] if out.allocations else None
    candidates = list(last.clusters) if last else tickers
    n_clusters = last.clustering.n_clusters if last else settings.inference.min_clusters
    return Context(
        past, tickers, candidates, settings, run, classes, n_clusters,
        day=today, all_assets=all_assets_of(past, tickers, settings.inference),
    )  # fmt: skip


def _layered_names(baselines: Sequence[str]) -> list[str]:
    """The series the regime layer adds: layered baselines, and the trend rule's timing."""
    return [*(layered_name(b) for b in LAYERED if b in baselines), TREND]


def _decide_all(
    prices: pl.DataFrame,
    reb: np.ndarray,
    model: str | Path,
    settings: Settings,
    progress: Progress | None,
    memo: Memo,
    classes: Mapping[str, str],
    baselines: Sequence[str],
    history: History | None = None,
) -> _Decisions:
    """Every portfolio's targets at every rebalance, from prices up to that date only."""
    tickers = [c for c in prices.columns if c != "date"]
    # Features are trailing: the panel's, computed once, equal each date's.
    run = Run(
        settings.inference.onnx_threads,
        memo=memo,
        features=compute_features(prices, settings.features),
    )
    regimes = _regimes_of(prices, settings, history, run)
    layered = _layered_names(baselines) if regimes else []
    out = _Decisions({name: [] for name in ("strategy", *baselines, *layered)})
    out.layers = {name: Layer() for name in ("strategy", *layered)} if regimes else {}
    out.regimes = regimes
    # A folder of bundles is listed (and every checksum verified) once, not at every date.
    catalog = None if is_bundle(Path(model)) else list_bundles(model)
    dates = prices["date"]
    for k, t in enumerate(reb):
        day: dt.date = dates[int(t)]
        bundle = _bundle_for(model, day, settings, catalog)
        out.bundles.append(bundle)
        past = prices.head(int(t) + 1)
        today = _decide_strategy(
            out, past, day, bundle, run, settings, tickers, classes, regimes
        )  # fmt: skip
        _decide_baselines(out, _context(out, past, today, tickers, settings, run, classes), day)
        if regimes is not None:
            _layer_baselines(out, day, bundle, regimes, settings, tickers)
        if progress is not None:
            progress(k + 1, reb.size, day)
    return out


def _metrics(
    series: dict[str, np.ndarray],
    turnover: dict[str, np.ndarray],
    costs: dict[str, np.ndarray],
    rf: np.ndarray,
    ppy: float,
    trials: Sequence[float],
    seed: int,
) -> dict[str, dict[str, float]]:
    """:func:`shared.metrics.summary` of each series against the benchmark, with
    its Sharpe ratio's uncertainty (:func:`backtest.statistics.sharpe_statistics`)."""
    bench = series["benchmark"]
    years = bench.size / ppy
    metrics: dict[str, dict[str, float]] = {}
    for label, r in series.items():
        traded = label in turnover
        metrics[label] = summary(
            r,
            benchmark=None if label == "benchmark" else bench,
            rf=rf,
            periods_per_year=ppy,
            turnover=annual_turnover(turnover[label], years) if traded else None,
            cost_drag=float(costs[label].sum() / years) if traded else None,
        )
    uncertainty = sharpe_statistics(series, rf, ppy, trial_sharpes=trials, seed=seed)
    return {label: {**metrics[label], **uncertainty[label]} for label in metrics}


@dataclass(frozen=True)
class _Simulated:
    """Daily net returns (the benchmark's too), turnover and costs of every portfolio."""

    series: dict[str, np.ndarray]
    turnover: dict[str, np.ndarray]
    costs: dict[str, np.ndarray]
    risk_free: np.ndarray
    held: np.ndarray


@dataclass(frozen=True)
class _Plan:
    """A portfolio's trades: day indices, target rows, and which ones a change of regime made."""

    trades: np.ndarray
    targets: list[np.ndarray]
    switch: np.ndarray
    #: ``(rebalance k, decision day, exposure)`` of each switch, in order.
    moves: list[tuple[int, int, float]] = field(default_factory=list)


def _simulate_all(
    prices: pl.DataFrame,
    plans: dict[str, _Plan],
    settings: Settings,
    ppy: float,
) -> _Simulated:
    """Every portfolio through its trade days, with the same costs and cash rate."""
    cfg, bench = settings.backtest, settings.data.benchmark
    tickers = [c for c in prices.columns if c != "date"]
    returns = asset_returns(prices.select(tickers).to_numpy())
    # Sharpe, Sortino, alpha and beta are always measured over the risk-free rate;
    # whether idle cash earns it is a separate setting. A day without a proxy price earns 0.
    inf = settings.inference
    rf_all = held_returns(
        risk_free_returns(prices, inf.risk_free, ppy, prices.height, inf.risk_free_fallback)
    )
    cash = rf_all if cfg.cash == "risk_free" else np.zeros(prices.height)
    cost_rate = (cfg.cost_bps + cfg.slippage_bps) / 1e4
    series: dict[str, np.ndarray] = {"strategy": np.empty(0), "benchmark": np.empty(0)}
    turnover: dict[str, np.ndarray] = {}
    costs: dict[str, np.ndarray] = {}
    held = np.empty(0)
    for name, plan in plans.items():
        sim = simulate(
            returns, plan.trades, np.vstack(plan.targets), cost_rate=cost_rate,
            cash_returns=cash, trading=settings.trading,
        )  # fmt: skip
        series[name], turnover[name], costs[name] = sim.returns, sim.turnover, sim.costs
        if name == "strategy":
            held = sim.held
    first = plans["strategy"].trades[0]
    series["benchmark"] = returns[first + 1 :, tickers.index(bench)]
    return _Simulated(series, turnover, costs, rf_all[first + 1 :], held)


def _plans(
    out: _Decisions, reb: np.ndarray, trades: np.ndarray, dates: np.ndarray,
    settings: Settings, tickers: list[str],
) -> dict[str, _Plan]:  # fmt: skip
    """Each portfolio's trades: its rebalances, and its regime switches in between."""
    plans = {
        name: _Plan(trades, rows, np.zeros(trades.size, dtype=bool))
        for name, rows in out.targets.items()
    }
    if out.regimes is None or settings.regime.timing == "rebalance":
        return plans
    lag = settings.backtest.execution_lag
    for name, layer in out.layers.items():
        reader = out.regimes.trend if name == TREND else out.regimes.model
        exposure = daily_exposure(reader, out.bundles, reb, dates)
        moves = switches(reb, layer.applied, exposure, lag, dates.size)
        days, rows, flags = schedule(
            trades, out.targets[name], layer, moves, lag, tickers, settings.inference.risk_free
        )
        plans[name] = _Plan(days, rows, flags, moves)
    return plans


def _with_switches(
    out: _Decisions, plan: _Plan, prices: pl.DataFrame, settings: Settings, tickers: list[str]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The strategy's rows of ``rebalances.csv`` and ``weights.csv``, switches in their place."""
    if not plan.moves:
        return out.rebalances, out.rows
    assert out.regimes is not None
    cfg, dates = settings.inference, prices["date"]
    decided = iter(out.rebalances)
    moves = iter(zip(plan.moves, np.asarray(plan.targets)[plan.switch], strict=True))
    rows, weights = [], list(out.rows)
    for is_switch in plan.switch:
        if not is_switch:
            rows.append(next(decided))
            continue
        (k, d, exposure), target = next(moves)
        day, bundle = dates[d], out.bundles[k]
        book = as_weights(target, tickers)
        past = prices.head(d + 1)
        ppy = periods_per_year(past["date"].tail(cfg.lookback + 1).to_numpy())
        vol = target_risk(past, book, cfg.lookback, ppy, cfg.covariance).vol
        stress = float(out.regimes.model.stress_on(bundle, [day])[0])
        rows.append(switch_row(day, bundle.path, len(book), stress, exposure, vol))
        # The clusters of the decision it follows (the last one made, when that kept its book).
        clusters = next((c for c in reversed(out.clusterings[: k + 1]) if c), {})
        weights += [
            {"date": day, "ticker": t, "weight": w, "cluster": clusters.get(t, -1)}
            for t, w in book.items()
        ]
    return rows, sorted(weights, key=lambda row: row["date"])  # type: ignore[arg-type,return-value]


def _turnover_parts(
    clusterings: Sequence[dict[str, int] | None],
    plan: _Plan,
    held: np.ndarray,
    tickers: list[str],
    settings: Settings,
) -> list[dict[str, float | None]]:
    """Each strategy trade's turnover in parts (:mod:`backtest.turnover_split`), with the ARI
    of its clustering against the last one (none for a switch or a kept book)."""
    decided = iter(clusterings)
    last_book = np.zeros(len(tickers))
    last: dict[str, int] | None = None
    rows: list[dict[str, float | None]] = []
    for k, (target, is_switch) in enumerate(zip(plan.targets, plan.switch, strict=True)):
        book = target if k == 0 else execute(target, held[k], settings.trading)
        if is_switch:
            rows.append({**_prefixed(split_switch(held[k], book)), "ari": None})
        else:
            now = next(decided)
            moved = moved_names(last, now) if now is not None and last is not None else set()
            parts = _prefixed(split_trade(held[k], last_book, book, tickers, moved))
            ari = adjusted_rand(last, now) if now is not None and last is not None else None
            rows.append({**parts, "ari": ari})
            last = now if now is not None else last
        last_book = book
    return rows


def _prefixed(parts: dict[str, float]) -> dict[str, float | None]:
    return {f"turnover_{name}": value for name, value in parts.items()}


def _regime_frame(out: _Decisions, reb: np.ndarray, dates: np.ndarray, first: int) -> pl.DataFrame:
    """The strategy's stress and exposure on each date of its returns."""
    assert out.regimes is not None
    stress = daily_stress(out.regimes.model, out.bundles, reb, dates)[first + 1 :]
    return pl.DataFrame(
        {
            "date": dates[first + 1 :].astype("datetime64[D]"),
            "stress": stress,
            "exposure": exposure_of(stress, out.regimes.model.cfg),
        }
    )


def _available_baselines(
    names: Sequence[str], tickers: Sequence[str], classes: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """The baselines that can run on these prices, and a warning for each left out."""
    kept, notes = [], []
    for name in names:
        why = unavailable(name, tickers, classes)
        if why is None:
            kept.append(name)
        else:
            notes.append(f"baseline {name} left out: {why}")
            log.warning("baseline %s left out: %s", name, why)
    return kept, notes


def _schedule(
    dates: np.ndarray, start: dt.date, end: dt.date, cfg: BacktestSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Decision and trade indices; a decision whose trade day is past the data is not made."""
    trades = trade_indices(
        rebalance_indices(dates, start, end, cfg.rebalance), cfg.execution_lag, dates.size
    )
    if trades.size == 0:
        raise DataError(f"no {cfg.rebalance} rebalance date between {start} and {end}")
    return trades - cfg.execution_lag, trades


def decision_dates(
    prices: pl.DataFrame, start: dt.date, end: dt.date, cfg: BacktestSettings
) -> list[dt.date]:
    """The dates :func:`run_backtest` decides on over ``[start, end]``."""
    dates = prices.filter(pl.col("date") <= end)["date"]
    reb, _ = _schedule(dates.to_numpy(), start, end, cfg)
    return [dates[int(t)] for t in reb]


def warm_memo(
    prices: pl.DataFrame,
    settings: Settings,
    model: str | Path,
    start: dt.date,
    end: dt.date,
    memo: Memo,
    classes: Mapping[str, str] | None = None,
) -> int:
    """Make every decision of ``[start, end]`` only to fill ``memo``; return their count.

    Embeddings, clusterings and the HRP and max-Sharpe weights at a date do
    not depend on the decisions before it, so a sweep fills its cache in
    chunks of dates at once (one task each) and every variant's backtest then
    finds them there. Prices are cut at ``end`` as :func:`run_backtest` cuts
    them; features are trailing, so the windows of a date are the same
    whichever later date the prices end on, and so are the memo's keys.
    """
    prices = prices.filter(pl.col("date") <= end)
    tickers = [c for c in prices.columns if c != "date"]
    reb, _ = _schedule(prices["date"].to_numpy(), start, end, settings.backtest)
    classes = dict(classes or {})
    names = [b for b in settings.backtest.baselines if unavailable(b, tickers, classes) is None]
    while reb.size:
        try:
            _decide_all(prices, reb, model, settings, None, memo, classes, names)
            return int(reb.size)
        except DataError as err:
            # Only a first decision raises (later ones keep the book they had): the
            # chunk goes on from its next date, and the backtest itself reports this one.
            log.info("warming the cache: %s skipped: %s", prices["date"][int(reb[0])], err)
            reb = reb[1:]
    return 0


def run_backtest(
    prices: pl.DataFrame,
    settings: Settings,
    model: str | Path,
    start: dt.date,
    end: dt.date,
    *,
    progress: Progress | None = None,
    memo: Memo | None = None,
    classes: Mapping[str, str] | None = None,
    trials: Sequence[float] = (),
    history: History | None = None,
) -> BacktestResult:
    """Walk forward from ``start`` to ``end``; see the module docstring.

    Parameters
    ----------
    prices : polars.DataFrame
        Cleaned wide prices covering the lookback before ``start``.
    settings : Settings
    model : path
        A folder of bundles (walk-forward training), or one bundle trained
        before ``start``.
    start, end : datetime.date
        First and last possible rebalance dates; returns run to the last
        date of ``prices`` on or before ``end``.
    progress : callable, optional
        Called as ``progress(i, n, date)`` after each rebalance.
    memo : Memo, optional
        Embeddings, clusterings and HRP weights computed before from the same
        inputs (:mod:`inferer.memo`); a sweep's variants share one.
    classes : mapping of str to str, optional
        Asset class of each ticker (class caps, the asset-class baseline).
    trials : sequence of float
        Annual Sharpe ratios of every variant run on this period before
        (:mod:`backtest.ledger`): what the deflated Sharpe ratio counts.
    history : History, optional
        The benchmark's closes the regime layer reads (:func:`shared.regime.load_history`);
        default: ``[regime] history``'s file, else the panel's benchmark.

    Raises
    ------
    DataError
        Benchmark missing, no rebalance date, or a model trained on data
        from on or after a rebalance date.
    """
    t_start = time.perf_counter()
    cfg, bench = settings.backtest, settings.data.benchmark
    prices = prices.filter(pl.col("date") <= end)
    tickers = [c for c in prices.columns if c != "date"]
    if bench not in tickers:
        raise DataError(f"benchmark {bench!r} is not in the price data")
    dates = prices["date"].to_numpy()
    reb, trades = _schedule(dates, start, end, cfg)
    memo = memo if memo is not None else Memo(keep=False)
    classes = dict(classes or {})
    baselines, skipped = _available_baselines(cfg.baselines, tickers, classes)
    decisions = _decide_all(
        prices, reb, model, settings, progress, memo, classes, baselines, history
    )
    decisions.notes[:0] = skipped
    t_sim = time.perf_counter()

    result = _result(prices, decisions, reb, trades, settings, trials)
    t_end = time.perf_counter()
    timings = {"rebalances": t_sim - t_start, "simulate": t_end - t_sim, "total": t_end - t_start}
    return replace(result, timings=timings)


def _result(
    prices: pl.DataFrame,
    decisions: _Decisions,
    reb: np.ndarray,
    trades: np.ndarray,
    settings: Settings,
    trials: Sequence[float],
) -> BacktestResult:
    """Every portfolio through its trades, and what the run reports (timings left empty)."""
    dates = prices["date"].to_numpy()
    tickers = [c for c in prices.columns if c != "date"]
    ret_dates = dates[trades[0] + 1 :]
    if ret_dates.size < 2:
        raise DataError(f"fewer than 2 days of returns after the first trade {dates[trades[0]]}")
    ppy = periods_per_year(ret_dates)
    plans = _plans(decisions, reb, trades, dates, settings, tickers)
    sim = _simulate_all(prices, plans, settings, ppy)
    rebalance_rows, weight_rows = _with_switches(
        decisions, plans["strategy"], prices, settings, tickers
    )
    parts = _turnover_parts(decisions.clusterings, plans["strategy"], sim.held, tickers, settings)
    rebalance_rows = [{**row, **more} for row, more in zip(rebalance_rows, parts, strict=True)]
    frame = pl.DataFrame({"date": ret_dates.astype("datetime64[D]"), **sim.series})
    weights = pl.DataFrame(
        weight_rows,
        schema={"date": pl.Date, "ticker": pl.String, "weight": pl.Float64, "cluster": pl.Int64},
    )
    return BacktestResult(
        returns=frame,
        weights=weights,
        rebalances=rebalances_frame(
            rebalance_rows, sim.turnover["strategy"], sim.costs["strategy"]
        ),
        metrics=_metrics(
            sim.series, sim.turnover, sim.costs, sim.risk_free, ppy, trials, settings.backtest.seed
        ),
        allocations=tuple(decisions.allocations),
        turnover=sim.turnover,
        costs=sim.costs,
        held=sim.held,
        periods_per_year=ppy,
        risk_free=sim.risk_free,
        ex_ante=decisions.ex_ante or TargetRisk(0.0, {}),
        regime=_regime_frame(decisions, reb, dates, int(trades[0])) if decisions.regimes else None,
        notes=decisions.notes,
    )
