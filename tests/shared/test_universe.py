"""Universe files: the shipped TOML, the shared CSV, and every error case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.errors import ConfigError, DeepQuantError
from shared.universe import ASSET_CLASSES, Universe, load_universe, load_universe_csv
from tests.paths import ROOT

SHIPPED = ROOT / "configs" / "universe.toml"
SHARED_CSV = ROOT.parent / "shared" / "data" / "universe.csv"


def _write(tmp_path: Path, text: str, name: str = "universe.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(exc: pytest.ExceptionInfo[DeepQuantError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_shipped_universe_loads() -> None:
    universe = load_universe(SHIPPED)
    assert len(universe) >= 300
    groups = universe.by_class()
    assert list(groups) == list(ASSET_CLASSES)
    assert all(groups[name] for name in ASSET_CLASSES)
    assert universe.tickers[0] == "AAPL"
    assert universe.class_of("SPY") == "us_equity"
    assert universe.class_of("BRK-B") == "us_stock"


def test_shipped_universe_has_fx_pairs_and_currency_etfs() -> None:
    universe = load_universe(SHIPPED)
    fx = universe.by_class()["fx"]
    pairs = [t for t in fx if t.endswith("=X")]
    assert len(pairs) >= 8
    assert all(re.fullmatch(r"[A-Z]{6}=X", t) for t in pairs)
    assert {"EURUSD=X", "USDJPY=X", "UUP", "FXE"} <= set(fx)


def test_shipped_universe_contains_the_shared_csv() -> None:
    if not SHARED_CSV.is_file():
        pytest.skip(f"{SHARED_CSV} not present")
    shipped, shared = load_universe(SHIPPED), load_universe_csv(SHARED_CSV)
    assert set(shared.tickers) <= set(shipped.tickers)
    assert all(shipped.class_of(t) == shared.class_of(t) for t in shared.tickers)


def test_csv_loader_on_shared_universe() -> None:
    if not SHARED_CSV.is_file():
        pytest.skip(f"{SHARED_CSV} not present")
    universe = load_universe_csv(SHARED_CSV)
    assert len(universe) == 338
    assert universe.tickers[0] == "SPY"
    assert set(universe.asset_class.values()) <= set(ASSET_CLASSES)


def test_csv_loader_ignores_extra_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "ticker,asset_class,first\nSPY,us_equity,2015-01-02\nUUP,fx,\n", "u.csv"
    )
    universe = load_universe_csv(path)
    assert universe.tickers == ("SPY", "UUP")
    assert universe.class_of("UUP") == "fx"


def test_file_order_and_unknown_ticker(tmp_path: Path) -> None:
    path = _write(tmp_path, '[classes]\nfx = ["UUP", "EURUSD=X"]\nus_equity = ["SPY"]\n')
    universe = load_universe(path)
    assert universe.tickers == ("UUP", "EURUSD=X", "SPY")
    assert universe.class_of("NOPE") == "unknown"
    assert "SPY" in universe and "NOPE" not in universe
    assert universe.by_class() == {"us_equity": ("SPY",), "fx": ("UUP", "EURUSD=X")}


def test_universe_is_frozen() -> None:
    universe = Universe(("SPY",), {"SPY": "us_equity"})
    with pytest.raises(AttributeError):
        universe.tickers = ()  # type: ignore[misc]
    assert hash(universe) == hash(Universe(("SPY",), {}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[classes]\nus_equity = ["SPY"\n', r"not valid TOML"),
        ('[classes]\nstocks = ["SPY"]\n', r"unknown asset class 'stocks'"),
        ('[classes]\nus_equity = ["SPY"]\nfx = ["UUP", "SPY"]\n', r"duplicate ticker 'SPY'"),
        ('[classes]\nus_equity = ["SPY", "SPY"]\n', r"duplicate ticker 'SPY'"),
        ('[classes]\nus_equity = ["SPY", " "]\n', r"empty ticker in asset class 'us_equity'"),
        ("[classes]\nus_equity = []\n", r"no tickers"),
        ('us_equity = ["SPY"]\n', r"missing \[classes\]"),
        ('[classes]\nus_equity = "SPY"\n', r"must be a list"),
        ("[classes]\nus_equity = [1]\n", r"non-string ticker 1"),
    ],
)
def test_toml_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_universe(path)
    message = _error(info)
    assert message.startswith(str(path))
    assert re.search(expected, message)


def test_missing_file(tmp_path: Path) -> None:
    for loader in (load_universe, load_universe_csv):
        with pytest.raises(ConfigError, match="universe file not found") as info:
            loader(tmp_path / "nope.toml")
        assert str(tmp_path / "nope.toml") in _error(info)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ticker,class\nSPY,us_equity\n", r"missing column\(s\) asset_class"),
        ("ticker,asset_class\nSPY,stocks\n", r"unknown asset class 'stocks'"),
        ("ticker,asset_class\nSPY,us_equity\nSPY,fx\n", r"duplicate ticker 'SPY'"),
        ("ticker,asset_class\n,us_equity\n", r"empty ticker"),
        ("ticker,asset_class\n", r"no tickers"),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text, "universe.csv")
    with pytest.raises(ConfigError) as info:
        load_universe_csv(path)
    assert re.search(expected, _error(info))
