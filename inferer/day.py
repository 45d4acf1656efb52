"""One decision date's prices and what every decision on them reads, computed once.

At each rebalance of a backtest the strategy, its three cluster ablations and
the all-asset baselines decide on the same prices. What they read of them
(trailing returns, the risk-free rate, the cash-like filter, the selection
signals) is computed once into a :class:`Day`, built by whoever owns the
date (:func:`inferer.pipeline.decide_asof` for the live job and the
strategy, the backtest's engine for the baselines) and passed down. Its
arrays are read-only: a caller that wrote into one would change what the
next caller reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from inferer.select import Signals, signals
from shared.config import InferenceSettings
from shared.errors import DataError
from shared.metrics import periods_per_year
from shared.returns import risk_free_returns, trailing_returns

__all__ = ["AllAssets", "Day", "all_assets_of", "cash_like_assets", "day_of"]


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


def _read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


@dataclass(frozen=True, eq=False)
class Day:
    """What selection and construction read of one date's prices, for ``tickers``.

    Attributes
    ----------
    past : polars.DataFrame
        Prices up to the date only.
    tickers : tuple of str
        The candidates, in the order of the columns of ``returns``.
    ppy : float
        Periods per year of the trailing window's calendar.
    returns : numpy.ndarray
        ``(lookback, len(tickers))`` trailing simple returns.
    rf : numpy.ndarray
        Per-period risk-free returns over the same days.
    cash_like : dict of str to str
        Candidates too calm to select (``min_vol``), with the reason.
    eligible : numpy.ndarray
        Boolean mask of the candidates that are not cash-like.
    signals : Signals
        Every eligible candidate's selection statistics.
    notes : dict of str to str
        What the figures stand on that a reader should know (the risk-free
        fallback rate, where it served).
    """

    past: pl.DataFrame
    tickers: tuple[str, ...]
    ppy: float
    returns: np.ndarray
    rf: np.ndarray
    cash_like: dict[str, str]
    eligible: np.ndarray
    signals: Signals
    notes: dict[str, str] = field(default_factory=dict)


def _fallback_note(rf: np.ndarray, cfg: InferenceSettings) -> dict[str, str]:
    """The note of the days the proxy's missing returns take the fallback rate (none: {})."""
    missing = int(np.isnan(rf).sum())
    if not (isinstance(cfg.risk_free, str) and missing and cfg.risk_free_fallback is not None):
        return {}
    return {
        "(risk-free)": f"risk-free: {missing} of {rf.size} days without a {cfg.risk_free} "
        f"price at the fallback rate {cfg.risk_free_fallback:.2%} a year"
    }


def _check_proxy(rf: np.ndarray, past: pl.DataFrame, cfg: InferenceSettings) -> None:
    """A cash proxy with too short a history leaves every excess return too short: say so."""
    have = int(np.isfinite(rf).sum())
    if isinstance(cfg.risk_free, str) and have < cfg.min_history:
        raise DataError(
            f"risk-free ticker {cfg.risk_free!r} has {have} returns in the {cfg.lookback} "
            f"days to {past['date'][-1]}, fewer than min_history {cfg.min_history}: excess "
            "returns need it (start later, or set [inference] risk_free to a rate)"
        )


def day_of(past: pl.DataFrame, tickers: Sequence[str], cfg: InferenceSettings) -> Day:
    """The :class:`Day` of ``tickers`` on the last date of ``past``."""
    names = tuple(tickers)
    ppy = periods_per_year(past["date"].tail(cfg.lookback + 1).to_numpy())
    returns = trailing_returns(past, names, cfg.lookback)
    rf = risk_free_returns(past, cfg.risk_free, ppy, cfg.lookback, None)
    notes = _fallback_note(rf, cfg)
    if notes:
        rf = risk_free_returns(past, cfg.risk_free, ppy, cfg.lookback, cfg.risk_free_fallback)
    _check_proxy(rf, past, cfg)
    cash_like = cash_like_assets(returns, names, cfg.min_vol, ppy)
    eligible = np.array([t not in cash_like for t in names], dtype=bool)
    stats = signals(returns[:, eligible], rf, ppy)
    _read_only(returns, rf, eligible, *(a for a in stats if isinstance(a, np.ndarray)))
    return Day(past, names, ppy, returns, rf, cash_like, eligible, stats, notes)


@dataclass(frozen=True, eq=False)
class AllAssets:
    """Every asset's trailing returns on one date and which ones an all-asset baseline may hold.

    ``ok``: a full window of finite returns, some variance, and not cash-like;
    ``ppy``: the periods per year of the window's calendar.
    """

    returns: np.ndarray
    ok: np.ndarray
    ppy: float


def all_assets_of(past: pl.DataFrame, tickers: Sequence[str], cfg: InferenceSettings) -> AllAssets:
    """The :class:`AllAssets` of ``tickers`` on the last date of ``past``."""
    r = trailing_returns(past, tickers, cfg.lookback)
    ok = np.asarray(np.isfinite(r).all(axis=0))
    ok[ok] = r[:, ok].std(axis=0) > 0
    ppy = periods_per_year(past["date"].tail(cfg.lookback + 1).to_numpy())
    cash = cash_like_assets(r, tickers, cfg.min_vol, ppy)
    ok &= np.array([t not in cash for t in tickers])
    _read_only(r, ok)
    return AllAssets(r, ok, ppy)
