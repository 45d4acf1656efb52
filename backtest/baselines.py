"""Baselines, decided on the strategy's dates from the same prices, by name.

All-asset baselines hold every *eligible* asset: a complete trailing return
history, a positive volatility, and not cash-like (``[inference] min_vol``,
:func:`inferer.day.cash_like_assets`), so none of them is a T-bill fund.

``equal_weight``
    1/N over every asset with a price on D (DeMiguel, Garlappi and Uppal's bar).
``sixty_forty``
    60% SPY, 40% AGG, rebalanced like the strategy.
``inverse_vol``
    Eligible assets weighted by 1 / trailing volatility.
``hrp_all``
    HRP over the eligible assets.
``max_sharpe_all``
    Ledoit-Wolf maximum Sharpe over the eligible assets, each capped at
    :data:`ALL_ASSET_CAP`: with HRP, the second seed's HRP-vs-MVO experiment.
``momentum``
    The :data:`MOMENTUM_N` eligible assets with the best 12-1 momentum, equal weight.
``corr_cluster``
    The strategy's selection and construction on the same candidates, with
    clusters from each asset's standardised trailing returns instead of the
    autoencoder: Euclidean distance between those vectors is
    ``sqrt(2 (1 - correlation))``, i.e. correlation clustering without the model.
``class_cluster``
    The same, with the universe's asset classes as the clusters.
``random_cluster``
    The same, with a seeded random partition into as many clusters as the
    strategy has on D: the placebo the autoencoder's clusters must beat.

Each baseline is a function of a :class:`Context` returning target weights
over ``Context.tickers``; :data:`BASELINES` maps the names a config may list
(:data:`shared.choices.Baseline`) to them, and :func:`unavailable` says why
one cannot run on a panel.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from inferer.allocate import METHOD_FAILURES, inverse_vol_weights, max_sharpe_weights
from inferer.cluster import Clustering
from inferer.day import AllAssets, Day, all_assets_of, day_of
from inferer.hrp import hrp
from inferer.memo import digest
from inferer.pipeline import decide, decide_clustered
from inferer.run import Run
from inferer.select import MOMENTUM_SKIP, momentum
from shared.config import Settings
from shared.errors import EstimationError
from shared.returns import annual_risk_free, risk_free_returns, trailing_returns
from shared.universe import UNKNOWN_CLASS

__all__ = [
    "ALL_ASSET_CAP",
    "BASELINES",
    "MOMENTUM_N",
    "SIXTY_FORTY",
    "Context",
    "correlation_embeddings",
    "unavailable",
    "weight_vector",
]

SIXTY_FORTY: dict[str, float] = {"SPY": 0.6, "AGG": 0.4}
#: Most weight max-Sharpe may give one asset of the whole universe (at least 20 held).
ALL_ASSET_CAP = 0.05
#: Assets the momentum baseline holds.
MOMENTUM_N = 10


@dataclass(frozen=True)
class Context:
    """What a baseline may see at rebalance date D.

    Attributes
    ----------
    past : polars.DataFrame
        Prices up to D only.
    tickers : sequence of str
        Every asset of the backtest; the order of the returned weights.
    candidates : sequence of str
        The assets the strategy could choose from at D.
    settings : Settings
    run : Run
        The backtest's sessions and content cache (:mod:`inferer.run`).
    classes : mapping of str to str
        Asset class of each ticker.
    n_clusters : int
        Clusters of the strategy on D (the placebo's count).
    held : collection of str
        The baseline's own holdings before D (selection hysteresis).
    day : Day, optional
        The strategy's figures on D, which its cluster ablations reuse when
        they rank the same candidates (:mod:`inferer.day`).
    all_assets : AllAssets, optional
        Every asset's trailing returns and eligibility on D, which the
        all-asset baselines share; computed from ``past`` when absent.
    """

    past: pl.DataFrame
    tickers: Sequence[str]
    candidates: Sequence[str]
    settings: Settings
    run: Run = field(default_factory=lambda: Run(1))
    classes: Mapping[str, str] = field(default_factory=dict)
    n_clusters: int = 2
    held: Collection[str] = ()
    day: Day | None = None
    all_assets: AllAssets | None = None


def weight_vector(weights: Mapping[str, float], tickers: Sequence[str]) -> np.ndarray:
    """Weights by ticker -> a vector over ``tickers`` (0 for the others)."""
    index = {t: i for i, t in enumerate(tickers)}
    out = np.zeros(len(tickers))
    for ticker, w in weights.items():
        out[index[ticker]] = w
    return out


def correlation_embeddings(returns: np.ndarray) -> np.ndarray:
    """Each asset's trailing returns, standardised: rows ``(n_assets, T)``.

    Missing days count as the asset's mean (0 after standardising), so they
    neither add nor remove correlation.
    """
    r = np.asarray(returns, dtype=np.float64).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row is handled below
        mean = np.nanmean(r, axis=1, keepdims=True)
        std = np.nanstd(r, axis=1, keepdims=True)
    z = (r - mean) / np.where(std > 0, std, 1.0)
    return np.nan_to_num(z, nan=0.0)


def _eligible(ctx: Context) -> AllAssets:
    """Trailing returns of every asset, the mask of the eligible ones, their calendar."""
    every = ctx.all_assets
    if every is None:
        every = all_assets_of(ctx.past, ctx.tickers, ctx.settings.inference)
    return every


def _spread(ctx: Context, ok: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = np.zeros(len(ctx.tickers))
    w[np.flatnonzero(ok)] = weights
    return w


def equal_weight(ctx: Context) -> np.ndarray:
    live = np.isfinite(np.array(ctx.past.select(ctx.tickers).row(-1), dtype=np.float64))
    return live / live.sum()


def sixty_forty(ctx: Context) -> np.ndarray:
    return weight_vector(SIXTY_FORTY, ctx.tickers)


def inverse_vol(ctx: Context) -> np.ndarray:
    every = _eligible(ctx)
    r, ok = every.returns, every.ok
    return _spread(ctx, ok, inverse_vol_weights(r[:, ok]))


def hrp_all(ctx: Context) -> np.ndarray:
    every = _eligible(ctx)
    r, ok = every.returns, every.ok
    held = r[:, ok]
    return _spread(ctx, ok, ctx.run.memo.get("hrp", digest(held), lambda: hrp(held)))


def max_sharpe_all(ctx: Context) -> np.ndarray:
    cfg = ctx.settings.inference
    every = _eligible(ctx)
    r, ok, ppy = every.returns, every.ok, every.ppy
    daily = risk_free_returns(ctx.past, cfg.risk_free, ppy, cfg.lookback, cfg.risk_free_fallback)
    rf = annual_risk_free(daily, ppy)
    held = r[:, ok]
    # With few assets the cap loosens to 2 / n, leaving the optimiser room.
    cap = min(1.0, max(ALL_ASSET_CAP, 2.0 / max(held.shape[1], 1)))

    def solve() -> np.ndarray:
        try:
            return max_sharpe_weights(
                held, max_weight=cap, risk_free_rate=rf, periods_per_year=ppy,
                covariance=cfg.covariance,
            )  # fmt: skip
        except METHOD_FAILURES as err:
            # The engine keeps the previous weights on a DataError, and says so.
            raise EstimationError(f"max-Sharpe failed: {err}") from None

    return _spread(
        ctx, ok, ctx.run.memo.get("max_sharpe", digest(held, rf, cap, cfg.covariance), solve)
    )


def momentum_top(ctx: Context) -> np.ndarray:
    every = _eligible(ctx)
    r, ok = every.returns, every.ok
    if r.shape[0] <= MOMENTUM_SKIP:
        raise EstimationError(
            f"12-1 momentum needs more than {MOMENTUM_SKIP} returns; [inference] lookback "
            f"gives {r.shape[0]}"
        )
    score = np.where(ok, momentum(np.nan_to_num(r, nan=0.0)), -np.inf)
    # Best first; ties by ticker so the column order does not matter.
    order = sorted(range(len(ctx.tickers)), key=lambda j: (-score[j], ctx.tickers[j]))
    top = [j for j in order[:MOMENTUM_N] if ok[j]]
    w = np.zeros(len(ctx.tickers))
    w[top] = 1.0 / len(top)
    return w


def _clustered(ctx: Context, labels: np.ndarray | None) -> np.ndarray:
    """The strategy's selection and construction on clusters from ``labels`` (None: correlation)."""
    day = ctx.day
    if day is None or day.tickers != tuple(ctx.candidates):
        day = day_of(ctx.past, ctx.candidates, ctx.settings.inference)
    held, classes = ctx.held, ctx.classes
    if labels is None:
        r = trailing_returns(ctx.past, ctx.candidates, ctx.settings.inference.lookback)
        embeddings = correlation_embeddings(r)
        decision = decide(day, embeddings, ctx.settings, ctx.run, incumbents=held, classes=classes)
    else:  # the clusters are given: nothing to embed
        k = int(np.unique(labels).size)
        given = Clustering(np.unique(labels, return_inverse=True)[1], k, np.empty((0, 4)), None)
        decision = decide_clustered(day, given, ctx.settings, incumbents=held, classes=classes)
    return weight_vector(decision.weights, ctx.tickers)


def corr_cluster(ctx: Context) -> np.ndarray:
    return _clustered(ctx, None)


def class_cluster(ctx: Context) -> np.ndarray:
    return _clustered(ctx, np.array([ctx.classes.get(t, UNKNOWN_CLASS) for t in ctx.candidates]))


def random_cluster(ctx: Context) -> np.ndarray:
    day: dt.date = ctx.past["date"][-1]
    rng = np.random.default_rng([ctx.settings.backtest.seed, day.toordinal()])
    n = len(ctx.candidates)
    return _clustered(ctx, rng.permutation(np.arange(n) % min(ctx.n_clusters, n)))


BASELINES: dict[str, Callable[[Context], np.ndarray]] = {
    "equal_weight": equal_weight,
    "sixty_forty": sixty_forty,
    "inverse_vol": inverse_vol,
    "hrp_all": hrp_all,
    "max_sharpe_all": max_sharpe_all,
    "momentum": momentum_top,
    "corr_cluster": corr_cluster,
    "class_cluster": class_cluster,
    "random_cluster": random_cluster,
}


def unavailable(name: str, tickers: Collection[str], classes: Mapping[str, str]) -> str | None:
    """Why baseline ``name`` cannot run on a panel of ``tickers``, or None."""
    if name == "sixty_forty":
        missing = [t for t in SIXTY_FORTY if t not in tickers]
        if missing:
            return f"{', '.join(missing)} not in the prices"
    if name == "class_cluster" and not any(
        classes.get(t, UNKNOWN_CLASS) != UNKNOWN_CLASS for t in tickers
    ):
        return "no asset class known for any ticker (no universe file)"
    return None
