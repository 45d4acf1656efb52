"""Tickers and their asset classes.

A universe file is TOML with one ``[classes]`` table mapping each asset class
to a list of Yahoo tickers::

    [classes]
    us_equity = ["SPY", "QQQ"]
    fx = ["EURUSD=X", "UUP"]

The shared price panels come with a ``ticker,asset_class[,...]`` CSV instead;
:func:`load_universe_csv` reads that form.

Example
-------
>>> from shared.universe import load_universe
>>> universe = load_universe("configs/universe.toml")  # doctest: +SKIP
>>> universe.class_of("SPY")  # doctest: +SKIP
'us_equity'
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

#: The asset classes a universe may use, in reporting order.
ASSET_CLASSES: tuple[str, ...] = (
    "us_stock",
    "us_equity",
    "intl_equity",
    "gov_bonds",
    "credit_bonds",
    "commodities",
    "fx",
    "real_estate_alts",
)

UNKNOWN_CLASS = "unknown"


@dataclass(frozen=True)
class Universe:
    """An ordered set of tickers, each with one asset class.

    Parameters
    ----------
    tickers : tuple of str
        Tickers in file order, without duplicates.
    asset_class : dict of str to str
        Asset class per ticker; a ticker missing here counts as ``"unknown"``.
    """

    tickers: tuple[str, ...]
    asset_class: dict[str, str] = field(hash=False)

    def class_of(self, ticker: str) -> str:
        """Asset class of ``ticker``.

        Parameters
        ----------
        ticker : str
            A ticker symbol.

        Returns
        -------
        str
            The ticker's asset class, or ``"unknown"`` when it is not in the universe
            (panels may carry columns that no universe file lists).
        """
        return self.asset_class.get(ticker, UNKNOWN_CLASS)

    def by_class(self) -> dict[str, tuple[str, ...]]:
        """Tickers grouped by asset class, in :data:`ASSET_CLASSES` order.

        Returns
        -------
        dict of str to tuple of str
            Only classes with at least one ticker appear; tickers without a class
            are grouped under ``"unknown"``, last.
        """
        groups: dict[str, list[str]] = {}
        for ticker in self.tickers:
            groups.setdefault(self.class_of(ticker), []).append(ticker)
        order = {name: i for i, name in enumerate(ASSET_CLASSES)}
        ranked = sorted(groups, key=lambda name: order.get(name, len(order)))
        return {name: tuple(groups[name]) for name in ranked}

    def __len__(self) -> int:
        return len(self.tickers)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self.tickers


def _build(path: Path, pairs: Iterable[tuple[str, str]]) -> Universe:
    """Validate ``(ticker, asset_class)`` pairs into a :class:`Universe`.

    Raises
    ------
    ConfigError
        An unknown asset class, an empty or duplicate ticker, or no tickers at all.
    """
    asset_class: dict[str, str] = {}
    for ticker, klass in pairs:
        if klass not in ASSET_CLASSES:
            expected = ", ".join(ASSET_CLASSES)
            raise ConfigError(f"{path}: unknown asset class {klass!r} (expected one of {expected})")
        if not ticker:
            raise ConfigError(f"{path}: empty ticker in asset class {klass!r}")
        if ticker in asset_class:
            raise ConfigError(
                f"{path}: duplicate ticker {ticker!r} (in {asset_class[ticker]!r} and {klass!r})"
            )
        asset_class[ticker] = klass
    if not asset_class:
        raise ConfigError(f"{path}: no tickers")
    return Universe(tickers=tuple(asset_class), asset_class=asset_class)


def _toml_pairs(path: Path, raw: dict[str, Any]) -> list[tuple[str, str]]:
    classes = raw.get("classes")
    if not isinstance(classes, dict):
        raise ConfigError(f"{path}: missing [classes] table")
    pairs: list[tuple[str, str]] = []
    for klass, tickers in classes.items():
        if not isinstance(tickers, list):
            raise ConfigError(f"{path}: [classes] {klass} must be a list of ticker strings")
        for ticker in tickers:
            if not isinstance(ticker, str):
                raise ConfigError(f"{path}: [classes] {klass} has a non-string ticker {ticker!r}")
            pairs.append((ticker.strip(), klass))
    return pairs


def load_universe(path: str | Path) -> Universe:
    """Read a universe TOML file.

    Parameters
    ----------
    path : str or Path
        TOML file with a ``[classes]`` table of ``asset_class = [tickers]``.

    Returns
    -------
    Universe
        Tickers in file order.

    Raises
    ------
    ConfigError
        The file does not exist, is not valid TOML, lacks ``[classes]``, names an unknown asset
        class, or has an empty or duplicate ticker, or no tickers.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: universe file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{path}: not valid TOML ({message})") from None
    return _build(path, _toml_pairs(path, raw))


def load_universe_csv(path: str | Path) -> Universe:
    """Read a ``ticker,asset_class[,...]`` CSV such as a shared panel's ``universe.csv``.

    Parameters
    ----------
    path : str or Path
        CSV file with a header holding at least ``ticker`` and ``asset_class``;
        other columns are ignored.

    Returns
    -------
    Universe
        Tickers in row order.

    Raises
    ------
    ConfigError
        The file does not exist, the header lacks a needed column, a row has an unknown
        asset class or an empty or duplicate ticker, or there are no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: universe file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [name for name in ("ticker", "asset_class") if name not in header]
        if missing:
            raise ConfigError(f"{path}: missing column(s) {', '.join(missing)} in header")
        pairs = [
            ((row["ticker"] or "").strip(), (row["asset_class"] or "").strip()) for row in reader
        ]
    return _build(path, pairs)


def read_universe(path: str | Path) -> Universe:
    """A universe from a TOML file (:func:`load_universe`) or a CSV (:func:`load_universe_csv`)."""
    path = Path(path)
    return load_universe_csv(path) if path.suffix.lower() == ".csv" else load_universe(path)
