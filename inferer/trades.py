"""From today's target weights to orders: trades against what is held, and share counts.

The book held now comes from ``--holdings`` (a CSV of ``ticker`` and either
``weight`` or ``shares``), or else from the last ``weights_<date>.csv`` the job
wrote on or before today: the weights as last decided, not drifted with the
prices since, so pass ``--holdings`` for the real book. Turnover and cost
follow :mod:`shared.turnover`, as the backtest's do: one-way turnover, cash
included, and a cost of ``sum |change| x (cost_bps + slippage_bps) / 1e4``.
Share counts for ``--capital`` come from PyPortfolioOpt's
``DiscreteAllocation`` (greedy) at the latest prices, with the leftover cash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from inferer.trading import execute
from shared.config import TradingSettings
from shared.errors import DataError
from shared.turnover import one_way_turnover, traded

log = logging.getLogger("deepquant.infer")

TRADE_COLUMNS = ("ticker", "current", "target", "change")


@dataclass(frozen=True)
class Holdings:
    """What is held now, as weights summing to at most 1, and where that came from."""

    weights: dict[str, float]
    source: str
    shares: dict[str, float] | None = None


def _read_table(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return pl.read_csv(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: cannot read ({first})") from None


def _known(ticker: str, prices: Mapping[str, float], path: Path) -> str:
    """The universe's spelling of a held ``ticker`` (spaces and case aside); unknown: refused."""
    name = ticker.strip()
    if name in prices:
        return name
    by_case = {t.upper(): t for t in prices}
    if name.upper() in by_case:
        return by_case[name.upper()]
    raise DataError(f"{path}: {ticker!r} has no price in the data (not in the universe?)")


def _amount(value: object, kind: str, ticker: str, path: Path) -> float:
    if value is None:
        return float("nan")
    try:
        return float(str(value).strip())
    except ValueError:
        raise DataError(f"{path}: {kind} {value!r} for {ticker} is not a number") from None


def read_holdings(path: Path, prices: Mapping[str, float]) -> Holdings:
    """A holdings CSV: ``ticker`` and ``weight`` (fractions) or ``shares`` (counts).

    Share counts are valued at ``prices`` (the latest) to give weights.

    Tickers are matched to the universe's spelling regardless of spaces and
    case (`` spy`` is ``SPY``).

    Raises
    ------
    DataError
        Missing columns, a duplicated ticker, an amount that is not a number,
        negative or non-finite, weights above 1 in total, or a held ticker
        without a price (not in the data).
    """
    table = _read_table(path)
    kind = next((c for c in ("weight", "shares") if c in table.columns), None)
    if "ticker" not in table.columns or kind is None:
        raise DataError(f"{path}: needs a 'ticker' column and 'weight' or 'shares'")
    tickers = [_known(str(t), prices, path) for t in table["ticker"].to_list()]
    amounts = [
        _amount(a, kind, t, path) for a, t in zip(table[kind].to_list(), tickers, strict=True)
    ]
    if len(set(tickers)) < len(tickers):
        raise DataError(f"{path}: a ticker appears more than once")
    for ticker, amount in zip(tickers, amounts, strict=True):
        if not (math.isfinite(amount) and amount >= 0):
            raise DataError(f"{path}: {kind} {amount} for {ticker} is not >= 0")
    held = {t: a for t, a in zip(tickers, amounts, strict=True) if a > 0}
    if kind == "weight":
        if sum(held.values()) > 1 + 1e-6:
            raise DataError(f"{path}: weights sum to {sum(held.values()):.4f} > 1")
        return Holdings(held, str(path))
    missing = [t for t in held if t not in prices]
    if missing:
        raise DataError(f"{path}: no price for {', '.join(sorted(missing))}")
    value = {t: n * prices[t] for t, n in held.items()}
    total = sum(value.values())
    weights = {t: v / total for t, v in value.items()} if total > 0 else {}
    return Holdings(weights, str(path), shares=held)


def trades_frame(current: Mapping[str, float], target: Mapping[str, float]) -> pl.DataFrame:
    """One row per ticker held now or wanted: current, target and change, largest change first."""
    tickers = sorted(set(current) | set(target))
    rows = [(t, current.get(t, 0.0), target.get(t, 0.0)) for t in tickers]
    rows.sort(key=lambda r: (-abs(r[2] - r[1]), r[0]))
    return pl.DataFrame(
        {
            "ticker": [r[0] for r in rows],
            "current": [r[1] for r in rows],
            "target": [r[2] for r in rows],
            "change": [r[2] - r[1] for r in rows],
        },
        schema={"ticker": pl.String, "current": pl.Float64, "target": pl.Float64,
                "change": pl.Float64},
    )  # fmt: skip


def turnover_and_cost(trades: pl.DataFrame, cost_bps: float) -> tuple[float, float]:
    """One-way turnover and the cost of trading every unit of the risky assets.

    Turnover is half the sum of |change| over the assets and cash (the weight
    neither book holds), so investing all cash, or switching one asset for
    another, is 1.
    """
    changes = trades["change"].to_numpy()
    return one_way_turnover(changes), traded(changes) * cost_bps / 1e4


def share_counts(
    target: Mapping[str, float], prices: Mapping[str, float], capital: float
) -> tuple[dict[str, int], float]:
    """Whole shares of each target asset for ``capital`` at ``prices``, and the leftover cash.

    Raises
    ------
    DataError
        ``capital`` is not positive, or a target asset has no price.
    """
    import pandas as pd
    from pypfopt.discrete_allocation import DiscreteAllocation

    if not capital > 0:
        raise DataError(f"{capital}: must be a positive amount")
    missing = [t for t in target if t not in prices]
    if missing:
        raise DataError(f"{capital:g}: no latest price for {', '.join(sorted(missing))}")
    latest = pd.Series({t: prices[t] for t in target}, dtype=float)
    allocation = DiscreteAllocation(dict(target), latest, total_portfolio_value=capital)
    shares, leftover = allocation.greedy_portfolio()
    return {str(t): int(n) for t, n in shares.items()}, float(leftover)


@dataclass(frozen=True)
class Orders:
    """The trades of one live run, the book they leave, and their summary for the run JSON.

    ``book`` is what is held after the trades: the decided ``target`` unless
    ``[trading]`` held some trades back (:func:`traded_book`).
    """

    trades: pl.DataFrame
    holdings: str
    turnover: float
    cost: float
    capital: float | None = None
    leftover_cash: float | None = None
    book: dict[str, float] = field(default_factory=dict)
    target: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "holdings": self.holdings,
            "turnover_one_way": self.turnover,
            "estimated_cost": self.cost,
            "capital": self.capital,
            "leftover_cash": self.leftover_cash,
            # The decision, where [trading] kept the book short of it.
            "target": self.target if self.target != self.book else None,
        }


def traded_book(
    held: Mapping[str, float], target: Mapping[str, float], cfg: TradingSettings
) -> dict[str, float]:
    """The book after today's trades from ``held`` toward ``target``, largest first.

    :func:`inferer.trading.execute`, the backtest's own rule; from an empty
    book (all cash) the target is bought in full, as a backtest's first
    rebalance is.
    """
    if not held:
        return dict(target)
    tickers = sorted(set(held) | set(target))
    book = execute([target.get(t, 0.0) for t in tickers], [held.get(t, 0.0) for t in tickers], cfg)
    kept = ((t, float(w)) for t, w in zip(tickers, book, strict=True) if w > 1e-12)
    return dict(sorted(kept, key=lambda kv: -kv[1]))


#: Capital further than this factor from the held book's value is warned about.
CAPITAL_FAR = 2.0


def _check_capital(
    capital: float, shares: Mapping[str, float], prices: Mapping[str, float]
) -> None:
    """Warn when ``capital`` is far from what the held shares are worth: a typo, most likely."""
    value = sum(n * prices[t] for t, n in shares.items() if t in prices)
    if value > 0 and not 1 / CAPITAL_FAR <= capital / value <= CAPITAL_FAR:
        log.warning(
            "--capital %s is %.3g times the held book's value %s at the latest prices: "
            "the share counts are for the capital given",
            f"{capital:,.2f}", capital / value, f"{value:,.2f}",
        )  # fmt: skip


def make_orders(
    holdings: Holdings,
    book: Mapping[str, float],
    prices: Mapping[str, float],
    cost_bps: float,
    capital: float | None = None,
    *,
    target: Mapping[str, float] | None = None,
) -> Orders:
    """Trades from ``holdings`` to ``book``; with ``capital``, share counts too.

    ``target``: the decision, when ``book`` is what the trading rules leave of it.
    """
    book, decided = dict(book), dict(target if target is not None else book)
    trades = trades_frame(holdings.weights, book)
    turnover, cost = turnover_and_cost(trades, cost_bps)
    if capital is None:
        return Orders(trades, holdings.source, turnover, cost, book=book, target=decided)
    shares, leftover = share_counts(book, prices, capital)
    counts = [shares.get(t, 0) for t in trades["ticker"]]
    trades = trades.with_columns(pl.Series("target_shares", counts, dtype=pl.Int64))
    if holdings.shares is not None:
        _check_capital(capital, holdings.shares, prices)
        held = [holdings.shares.get(t, 0.0) for t in trades["ticker"]]
        trades = trades.with_columns(
            pl.Series("current_shares", held, dtype=pl.Float64),
            (pl.col("target_shares") - pl.Series(held)).alias("shares_change"),
        )
    return Orders(trades, holdings.source, turnover, cost, capital, leftover, book, decided)
