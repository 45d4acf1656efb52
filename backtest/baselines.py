"""Baselines, decided on the strategy's dates from the same prices, by name.

``equal_weight``
    1/N over every asset with a price on D.
``hrp_all``
    HRP over every asset with a complete trailing return history.
``corr_cluster``
    The same clustering, selection and allocation as the strategy, on the
    same candidate assets, but with each asset embedded by its standardised
    trailing returns instead of the autoencoder: Euclidean distance between
    those vectors is ``sqrt(2 (1 - correlation))``, i.e. correlation
    clustering without the model.

Each baseline is a function of a :class:`Context` returning target weights
over ``Context.tickers``; :data:`BASELINES` maps the names a config may list
(:data:`shared.choices.Baseline`) to them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from inferer.hrp import hrp
from inferer.memo import Memo, digest
from inferer.pipeline import decide
from shared.config import Settings
from shared.returns import trailing_returns

__all__ = ["BASELINES", "Context", "correlation_embeddings", "weight_vector"]


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
    memo : Memo
        Results computed before from the same inputs (:mod:`inferer.memo`).
    """

    past: pl.DataFrame
    tickers: Sequence[str]
    candidates: Sequence[str]
    settings: Settings
    memo: Memo = field(default_factory=lambda: Memo(keep=False))


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


def equal_weight(ctx: Context) -> np.ndarray:
    live = np.isfinite(np.array(ctx.past.select(ctx.tickers).row(-1), dtype=np.float64))
    return live / live.sum()


def hrp_all(ctx: Context) -> np.ndarray:
    r = trailing_returns(ctx.past, ctx.tickers, ctx.settings.inference.lookback)
    complete = np.asarray(np.isfinite(r).all(axis=0))
    complete[complete] = r[:, complete].std(axis=0) > 0
    w = np.zeros(len(ctx.tickers))
    held = r[:, complete]
    w[np.flatnonzero(complete)] = ctx.memo.get("hrp", digest(held), lambda: hrp(held))
    return w


def corr_cluster(ctx: Context) -> np.ndarray:
    r = trailing_returns(ctx.past, ctx.candidates, ctx.settings.inference.lookback)
    embeddings = correlation_embeddings(r)
    decision = decide(ctx.past, ctx.candidates, embeddings, ctx.settings, memo=ctx.memo)
    chosen = dict(zip(decision.selection.tickers, decision.result.weights, strict=True))
    return weight_vector(chosen, ctx.tickers)


BASELINES: dict[str, Callable[[Context], np.ndarray]] = {
    "equal_weight": equal_weight,
    "hrp_all": hrp_all,
    "corr_cluster": corr_cluster,
}
