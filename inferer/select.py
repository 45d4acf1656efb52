"""Pick the best asset(s) of each cluster by a trailing signal.

Signals (:data:`shared.choices.Signal`):

``"sharpe"``
    Annualised Sharpe ratio of excess returns over the lookback window.
``"momentum"``
    12-1 momentum: the compounded return of the window without its last
    :data:`MOMENTUM_SKIP` days (a month), whose short-term reversal would
    otherwise cancel part of the signal (Jegadeesh and Titman 1993).

Hysteresis: an incumbent (an asset held before) stays while it ranks within
``top_n + keep_margin`` of its cluster, taking the place of the lowest-ranked
newcomer, so a near tie does not trade the book every month.

Ranking by Sharpe of *excess* returns (return minus the risk-free rate of the
same day) is what keeps cash out: a T-bill fund's raw returns are tiny but
almost constant, so its raw Sharpe is huge and it would win its cluster (the
seed prototype's bug). Measured against a risk-free series that is that very
fund, its excess returns are zero, its Sharpe is undefined, and it is never
selected.

Example
-------
>>> import numpy as np
>>> from inferer.select import select_assets, signals
>>> r = np.array([[0.01, 0.02, 0.0], [0.03, -0.01, 0.01], [0.02, 0.01, -0.01], [0.0, 0.01, 0.02]])
>>> select_assets(
...     signals(r), ["A", "B", "C"], np.array([0, 0, 1]), min_history=4, top_n=1, signal="sharpe"
... ).tickers
('A', 'C')
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, get_args

import numpy as np

from shared.choices import Signal
from shared.errors import DataError
from shared.metrics import TRADING_DAYS, sharpe_ratio

__all__ = [
    "MOMENTUM_SKIP",
    "AssetStats",
    "Selection",
    "Signals",
    "excess_sharpe",
    "momentum",
    "select_assets",
    "signals",
]

#: Days at the end of the window that 12-1 momentum leaves out.
MOMENTUM_SKIP = 21
SIGNALS: tuple[str, ...] = get_args(Signal)


@dataclass(frozen=True)
class AssetStats:
    """Trailing statistics of one candidate asset.

    Attributes
    ----------
    ticker : str
    cluster : int
    sharpe : float
        Annualised Sharpe ratio of excess returns; NaN when undefined (fewer
        than 2 returns, or zero volatility of excess returns).
    ann_return : float
        Arithmetic mean of the asset's own (not excess) returns x periods per year.
    ann_vol : float
        Standard deviation (ddof 1) of its own returns x sqrt(periods per year).
    n_obs : int
        Days with both an asset return and a risk-free rate.
    momentum : float
        12-1 momentum (:func:`momentum`); NaN when undefined.
    excess_return : float
        Mean excess return over the risk-free rate x periods per year: what
        the absolute filter reads.
    """

    ticker: str
    cluster: int
    sharpe: float
    ann_return: float
    ann_vol: float
    n_obs: int
    momentum: float = float("nan")
    excess_return: float = float("nan")

    def score(self, signal: str) -> float:
        """The value ranked by ``signal`` (NaN: not rankable)."""
        return self.momentum if signal == "momentum" else self.sharpe


@dataclass(frozen=True, eq=False)
class Selection:
    """Result of :func:`select_assets`.

    Attributes
    ----------
    tickers : tuple of str
        Selected tickers, by ascending cluster label, then best Sharpe first.
    candidates : tuple of str
        Every candidate, in input order.
    labels : numpy.ndarray
        The cluster of each candidate.
    signals : Signals
        The candidates' statistics, as arrays.
    skipped : dict of str to str
        Candidates that could not be ranked, with the reason.
    """

    tickers: tuple[str, ...]
    candidates: tuple[str, ...]
    labels: np.ndarray
    signals: Signals
    skipped: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def stats(self) -> tuple[AssetStats, ...]:
        """Every candidate's :class:`AssetStats`, in input order (built when first read:
        a backtest's ablations select hundreds of times and never read them)."""
        sig = self.signals
        return tuple(
            AssetStats(
                ticker=ticker,
                cluster=int(self.labels[j]),
                sharpe=float(sig.sharpe[j]),
                ann_return=float(sig.ann_return[j]),
                ann_vol=float(sig.ann_vol[j]),
                n_obs=int(sig.n_obs[j]),
                momentum=float(sig.momentum[j]),
                excess_return=float(sig.excess_return[j]),
            )
            for j, ticker in enumerate(self.candidates)
        )

    def excess_returns(self, tickers: Sequence[str]) -> np.ndarray:
        """The annual excess returns of ``tickers``, candidates all."""
        row = {t: j for j, t in enumerate(self.candidates)}
        return np.array([float(self.signals.excess_return[row[t]]) for t in tickers])


def _validate_returns(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2:
        raise DataError(f"returns must be 2-D (days x assets), got shape {r.shape}")
    if np.isinf(r).any():
        raise DataError("returns contain infinite values")
    return r


def _validate_rf(rf_daily: np.ndarray | float, n_days: int) -> np.ndarray:
    rf = np.asarray(rf_daily, dtype=float)
    if rf.ndim == 0:
        if not np.isfinite(rf):
            raise ValueError(f"rf_daily must be finite, got {float(rf)}")
        return rf.reshape(1, 1)
    if rf.shape != (n_days,):
        raise ValueError(f"rf_daily must be a number or shape ({n_days},), got shape {rf.shape}")
    if np.isinf(rf).any():
        raise ValueError("rf_daily contains infinite values")
    return rf[:, None]


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN-aware per-column mean, std (ddof 1) and count; NaN where undefined."""
    count = np.sum(~np.isnan(x), axis=0)
    with warnings.catch_warnings():
        # Empty or single-value columns warn; their NaN result is what we want.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0, ddof=1)
    return mean, std, count


def excess_sharpe(
    returns: np.ndarray, rf_daily: np.ndarray | float, periods_per_year: float
) -> np.ndarray:
    """Annualised Sharpe ratio of excess returns, per column.

    Parameters
    ----------
    returns : numpy.ndarray
        Shape ``(T, n)`` (or ``(T,)``) simple returns per period, NaN where missing.
    rf_daily : float or numpy.ndarray
        Risk-free return per period: a constant, or a ``(T,)`` series (NaN
        days are left out of every column).
    periods_per_year : float
        Periods per year used to annualise, e.g. 252.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` (or a 0-d array for 1-D input): ``mean / std * sqrt(periods_per_year)``
        of ``returns - rf_daily`` over the days where both are present; NaN
        with fewer than 2 such days or a volatility at or below
        :data:`shared.metrics.ZERO_VOL` (:func:`shared.metrics.sharpe_ratio`).
    """
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    r = np.asarray(returns, dtype=float)
    one_d = r.ndim == 1
    r = _validate_returns(r[:, None] if one_d else r)
    excess = r - _validate_rf(rf_daily, r.shape[0])
    mean, std, _ = _mean_std(excess)
    sharpe = sharpe_ratio(mean, std, periods_per_year)
    return sharpe[0] if one_d else sharpe


def momentum(returns: np.ndarray, skip: int = MOMENTUM_SKIP) -> np.ndarray:
    """Compounded return of each column without its last ``skip`` rows.

    Missing returns count as 0 (the price held); a column with no return at
    all in those rows is NaN. Needs more than ``skip`` rows.
    """
    r = np.asarray(returns, dtype=float)
    if r.shape[0] <= skip:
        raise ValueError(f"momentum needs more than {skip} returns, got {r.shape[0]}")
    head = r[: r.shape[0] - skip]
    growth = np.prod(1.0 + np.nan_to_num(head, nan=0.0), axis=0) - 1.0
    return np.where(np.isnan(head).all(axis=0), np.nan, growth)


class Signals(NamedTuple):
    """Every column's trailing statistics (:class:`AssetStats`' fields), as arrays."""

    sharpe: np.ndarray
    ann_return: np.ndarray
    ann_vol: np.ndarray
    n_obs: np.ndarray
    momentum: np.ndarray
    excess_return: np.ndarray


def signals(
    returns: np.ndarray, rf_daily: np.ndarray | float = 0.0, periods_per_year: float = TRADING_DAYS
) -> Signals:
    """What :func:`select_assets` ranks by, per column of ``returns``; clusters play no part.

    ``returns`` and ``rf_daily`` as in :func:`select_assets`.
    """
    r = _validate_returns(returns)
    sharpe = excess_sharpe(r, rf_daily, periods_per_year)
    rf = _validate_rf(rf_daily, r.shape[0])
    # Own-return stats over the same days as the Sharpe, so they describe it.
    mean, std, count = _mean_std(np.where(np.isnan(rf), np.nan, r))
    excess_mean = _mean_std(r - rf)[0] * periods_per_year
    n_days, n_assets = r.shape
    mom = momentum(r) if n_days > MOMENTUM_SKIP else np.full(n_assets, np.nan)
    return Signals(
        sharpe, mean * periods_per_year, std * np.sqrt(periods_per_year), count, mom, excess_mean
    )


def _rank(
    members: Sequence[tuple[float, str]],
    top_n: int | None,
    incumbents: Collection[str],
    keep_margin: int,
) -> list[str]:
    """The chosen tickers of one cluster, ``members`` (score, ticker): the best ``top_n``,
    incumbents kept by the margin."""
    ranked = [t for _, t in sorted(members, key=lambda m: (-m[0], m[1]))]
    if top_n is None:
        return ranked
    chosen = ranked[:top_n]
    for ticker in ranked[top_n : top_n + keep_margin]:
        newcomers = [t for t in chosen if t not in incumbents]
        if ticker in incumbents and newcomers:
            chosen[chosen.index(newcomers[-1])] = ticker
    return sorted(chosen, key=ranked.index)


def _check_inputs(
    names: list[str], lab: np.ndarray, n_assets: int, min_history: int, top_n: int | None
) -> np.ndarray:
    """Check tickers, labels and parameters against ``n_assets`` columns; return the labels."""
    if len(names) != n_assets:
        raise ValueError(f"tickers has {len(names)} entries but returns has {n_assets} columns")
    if len(set(names)) != n_assets:
        dupes = sorted({t for t in names if names.count(t) > 1})
        raise ValueError(f"tickers must be distinct, repeated: {', '.join(dupes)}")
    if lab.shape != (n_assets,):
        raise ValueError(f"labels must have shape ({n_assets},), got {lab.shape}")
    if lab.size and not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    if min_history < 2:
        raise ValueError(f"min_history must be >= 2, got {min_history}")
    if top_n is not None and top_n < 1:
        raise ValueError(f"top_n must be >= 1 or None (the whole cluster), got {top_n}")
    if n_assets == 0:
        raise DataError("no assets to select from")
    return lab


def select_assets(
    stats: Signals,
    tickers: Sequence[str],
    labels: np.ndarray,
    *,
    min_history: int,
    top_n: int | None,
    signal: str,
    incumbents: Collection[str] = (),
    keep_margin: int = 0,
) -> Selection:
    """Select the ``top_n`` assets of each cluster with the highest ``signal``.

    Parameters
    ----------
    stats : Signals
        :func:`signals` of the ``n`` assets' trailing returns: what they are
        ranked by and how many returns each has.
    tickers : sequence of str
        ``n`` distinct tickers, in the order of ``stats``.
    labels : numpy.ndarray
        Shape ``(n,)`` integer cluster labels (any integers).
    min_history : int
        Assets with fewer valid excess returns are skipped.
    top_n : int or None
        Assets selected per cluster (fewer when a cluster has fewer rankable);
        None selects every rankable asset.
    signal : {"sharpe", "momentum"}
        What the assets of a cluster are ranked by (module docstring).
    incumbents : collection of str
        Assets held before this decision.
    keep_margin : int
        An incumbent ranked within ``top_n + keep_margin`` of its cluster stays.

    Returns
    -------
    Selection
        Ties in the signal are broken by ticker, alphabetically, so the result
        does not depend on column order. Assets with too little history or an
        undefined signal (a Sharpe with zero volatility of excess returns) are
        never selected and are listed in ``skipped``.

    Raises
    ------
    DataError
        No asset at all can be ranked.
    ValueError
        A parameter is invalid or inconsistent with ``stats``.
    """
    n_assets = len(stats.sharpe)
    names = [str(t) for t in tickers]
    lab = _check_inputs(names, np.asarray(labels), n_assets, min_history, top_n)

    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {SIGNALS}, got {signal!r}")
    if keep_margin < 0:
        raise ValueError(f"keep_margin must be >= 0, got {keep_margin}")
    skipped = _skipped(stats, names, signal, min_history)
    if len(skipped) == n_assets:
        short = int(np.count_nonzero(stats.n_obs < min_history))
        raise DataError(
            f"no asset can be selected: {short} of {n_assets} have fewer than "
            f"{min_history} returns, {n_assets - short} have zero excess volatility"
        )
    score = stats.momentum if signal == "momentum" else stats.sharpe
    members: dict[int, list[tuple[float, str]]] = {int(c): [] for c in np.unique(lab)}
    for j, ticker in enumerate(names):
        if ticker not in skipped:
            members[int(lab[j])].append((float(score[j]), ticker))
    held = set(incumbents)
    chosen = [t for c in members for t in _rank(members[c], top_n, held, keep_margin)]
    return Selection(tuple(chosen), tuple(names), lab, stats, skipped)


def _skipped(stats: Signals, names: Sequence[str], signal: str, min_history: int) -> dict[str, str]:
    """The candidates that cannot be ranked, in input order, with the first reason of each."""
    short = stats.n_obs < min_history
    no_sharpe = np.isnan(stats.sharpe)
    no_score = np.isnan(stats.momentum if signal == "momentum" else stats.sharpe)
    skipped: dict[str, str] = {}
    for j in (int(i) for i in np.flatnonzero(short | no_sharpe | no_score)):
        if short[j]:
            needs = f"needs {min_history}"
            skipped[names[j]] = f"only {int(stats.n_obs[j])} returns in the window, {needs}"
        elif no_sharpe[j]:
            skipped[names[j]] = "zero volatility of excess returns (cash-like), Sharpe undefined"
        else:
            skipped[names[j]] = f"{signal} undefined"
    return skipped
