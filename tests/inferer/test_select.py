"""Tests for inferer.select: excess-return Sharpe and per-cluster selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferer.select import AssetStats, Selection, excess_sharpe, momentum, signals
from inferer.select import select_assets as _select_assets
from shared.config import InferenceSettings
from shared.errors import DataError

_CFG = InferenceSettings()
#: The settings' defaults (shared/config.py) for the calls that leave them out.
_DEFAULTS = {"min_history": _CFG.min_history, "top_n": 1, "signal": _CFG.signal}


def select_assets(
    returns: np.ndarray,
    tickers: list[str],
    labels: np.ndarray,
    *,
    rf_daily: np.ndarray | float = 0.0,
    periods_per_year: float = 252.0,
    **kwargs: object,
) -> Selection:
    """Selection from trailing returns, with the settings' defaults for what is left out."""
    stats = signals(returns, rf_daily, periods_per_year)
    return _select_assets(stats, tickers, labels, **{**_DEFAULTS, **kwargs})  # type: ignore[arg-type]


# A column whose statistics are easy by hand: mean 0.015, variance (ddof 1) 5e-4 / 3.
HAND = np.array([0.01, 0.03, 0.02, 0.00])
HAND_STD = math.sqrt(5e-4 / 3)


def test_excess_sharpe_hand_computed():
    r = np.column_stack([HAND, HAND - 0.005, 2 * HAND])
    got = excess_sharpe(r, 0.0, 252)
    expected = [
        0.015 / HAND_STD * math.sqrt(252),
        0.010 / HAND_STD * math.sqrt(252),
        0.030 / (2 * HAND_STD) * math.sqrt(252),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_excess_sharpe_constant_and_series_rf():
    r = HAND[:, None]
    np.testing.assert_allclose(excess_sharpe(r, 0.005, 4), [0.010 / HAND_STD * 2], rtol=1e-12)
    # A series rf: excess = [0.01, 0.02, 0.02, -0.01] -> mean 0.01, var 6e-4 / 3.
    rf = np.array([0.0, 0.01, 0.0, 0.01])
    np.testing.assert_allclose(excess_sharpe(r, rf, 1), [0.01 / math.sqrt(2e-4)], rtol=1e-12)


def test_excess_sharpe_is_nan_aware():
    r = np.column_stack([np.r_[HAND, np.nan, np.nan], np.r_[np.nan, HAND, np.nan]])
    np.testing.assert_allclose(excess_sharpe(r, 0.0, 1), [0.015 / HAND_STD] * 2, rtol=1e-12)
    # rf missing on a day drops that day from every column.
    rf = np.array([0.0, 0.0, 0.0, 0.0, 0.0, np.nan])
    col = np.r_[HAND, 0.02, 0.5][:, None]
    np.testing.assert_allclose(
        excess_sharpe(col, rf, 1), excess_sharpe(np.r_[HAND, 0.02][:, None], 0.0, 1)
    )


def test_excess_sharpe_undefined_cases_are_nan():
    r = np.column_stack(
        [
            np.full(4, 0.0003),  # constant: zero volatility
            [0.01, np.nan, np.nan, np.nan],  # one observation
            np.full(4, np.nan),  # none
        ]
    )
    assert np.isnan(excess_sharpe(r, 0.0, 252)).all()


def test_excess_sharpe_one_dimensional_input():
    got = excess_sharpe(HAND, 0.0, 1)
    assert got.shape == ()
    assert float(got) == pytest.approx(0.015 / HAND_STD)


@pytest.mark.parametrize(
    ("rf", "ppy", "exc", "match"),
    [
        (np.zeros(3), 252, ValueError, "rf_daily"),
        (np.nan, 252, ValueError, "rf_daily"),
        (np.r_[0.0, np.inf, 0.0, 0.0], 252, ValueError, "rf_daily"),
        (0.0, 0, ValueError, "periods_per_year"),
    ],
)
def test_excess_sharpe_rejects_bad_parameters(rf, ppy, exc, match):
    with pytest.raises(exc, match=match):
        excess_sharpe(HAND[:, None], rf, ppy)


def test_select_picks_best_sharpe_per_cluster_with_hand_values():
    # Sharpe (ppy 1): A 1.1619, B 0.7746, C 2.3238 (A's mean, half its vol), D -0.7746.
    r = np.column_stack([HAND, HAND - 0.005, 0.5 * HAND + 0.0075, 0.5 * HAND - 0.0125])
    expected = excess_sharpe(r, 0.0, 1)
    assert expected[2] > expected[0] > expected[1] > expected[3]
    sel = select_assets(r, ["A", "B", "C", "D"], np.array([1, 1, 0, 0]), min_history=4)
    assert isinstance(sel, Selection)
    assert sel.tickers == ("C", "A")  # cluster 0 first, then cluster 1
    assert sel.skipped == {}
    assert [s.ticker for s in sel.stats] == ["A", "B", "C", "D"]
    assert [s.cluster for s in sel.stats] == [1, 1, 0, 0]
    a = sel.stats[0]
    assert a == AssetStats(
        ticker="A",
        cluster=1,
        sharpe=pytest.approx(0.015 / HAND_STD * math.sqrt(252)),
        ann_return=pytest.approx(0.015 * 252),
        ann_vol=pytest.approx(HAND_STD * math.sqrt(252)),
        n_obs=4,
        momentum=pytest.approx(float("nan"), nan_ok=True),  # 4 days: no 12-1 window
        excess_return=pytest.approx(0.015 * 252),
    )

    top2 = select_assets(r, ["A", "B", "C", "D"], np.array([1, 1, 0, 0]), min_history=4, top_n=2)
    assert top2.tickers == ("C", "D", "A", "B")
    top9 = select_assets(r, ["A", "B", "C", "D"], np.array([1, 1, 0, 0]), min_history=4, top_n=9)
    assert top9.tickers == top2.tickers


def test_ties_broken_by_ticker_not_column_order():
    r = np.column_stack([HAND, HAND, HAND - 0.02])
    labels = np.zeros(3, dtype=int)
    assert select_assets(r, ["ZZZ", "AAA", "MMM"], labels, min_history=4).tickers == ("AAA",)
    assert select_assets(r, ["AAA", "ZZZ", "MMM"], labels, min_history=4).tickers == ("AAA",)


def test_short_history_and_zero_vol_are_skipped_with_reasons():
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, size=(200, 4))
    r[:150, 1] = np.nan  # 50 returns only
    r[:, 2] = 0.0001  # constant
    sel = select_assets(r, ["OK", "NEW", "FLAT", "ALSO"], np.array([0, 0, 0, 1]), min_history=126)
    assert set(sel.skipped) == {"NEW", "FLAT"}
    assert "50" in sel.skipped["NEW"] and "126" in sel.skipped["NEW"]
    assert "zero volatility" in sel.skipped["FLAT"]
    assert sel.tickers == ("OK", "ALSO")
    assert sel.stats[1].n_obs == 50


def _cash_and_stock(n_days: int = 252) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    # T-bill fund: ~5% a year with a tiny symmetric wiggle, so its raw Sharpe is enormous.
    bil = 0.0002 + np.tile([1e-6, -1e-6], n_days // 2)
    stock = rng.normal(0.0008, 0.01, n_days)
    stock = (stock - stock.mean()) / stock.std(ddof=1) * 0.01 + 0.0008  # Sharpe ~1.27
    return np.column_stack([bil, stock]), bil


def test_cash_like_asset_wins_with_zero_rf_but_not_against_itself():
    r, bil = _cash_and_stock()
    tickers, labels = ["BIL", "SPY"], np.array([0, 0])
    assert select_assets(r, tickers, labels, rf_daily=0.0).tickers == ("BIL",)

    sel = select_assets(r, tickers, labels, rf_daily=bil)
    assert sel.tickers == ("SPY",)
    assert "BIL" in sel.skipped
    assert np.isnan(sel.stats[0].sharpe)
    # The fund's 1e-6 wiggle barely moves the stock's excess volatility.
    assert sel.stats[1].sharpe == pytest.approx((0.0008 - 0.0002) / 0.01 * math.sqrt(252), rel=1e-4)

    # A constant rf at the fund's average return makes its Sharpe ~0: it loses too.
    sel = select_assets(r, tickers, labels, rf_daily=float(bil.mean()))
    assert sel.tickers == ("SPY",)
    assert abs(sel.stats[0].sharpe) < 1e-6


def test_nothing_selectable_raises_data_error():
    r = np.column_stack([np.full(200, 0.0001), np.r_[np.full(190, np.nan), HAND, HAND, 0, 0]])
    with pytest.raises(DataError, match="no asset can be selected: 1 of 2"):
        select_assets(r, ["A", "B"], np.array([0, 1]))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"tickers": ["A"]}, ValueError, "tickers has 1"),
        ({"tickers": ["A", "A"]}, ValueError, "distinct.*A"),
        ({"labels": np.array([0])}, ValueError, "labels"),
        ({"labels": np.array([0.0, 1.0])}, ValueError, "labels must be integers"),
        ({"min_history": 1}, ValueError, "min_history"),
        ({"top_n": 0}, ValueError, "top_n"),
        ({"rf_daily": np.zeros(2)}, ValueError, "rf_daily"),
        ({"returns": np.ones(4)}, DataError, "2-D"),
        ({"returns": np.array([[np.inf, 0.0]] * 4)}, DataError, "infinite"),
    ],
)
def test_select_rejects_bad_input(kwargs, exc, match):
    args = {
        "returns": np.column_stack([HAND, HAND]),
        "tickers": ["A", "B"],
        "labels": np.array([0, 1]),
        "min_history": 4,
    }
    args.update(kwargs)
    returns, tickers, labels = args.pop("returns"), args.pop("tickers"), args.pop("labels")
    with pytest.raises(exc, match=match):
        select_assets(returns, tickers, labels, **args)


def test_momentum_is_the_window_growth_without_its_last_month() -> None:
    r = np.zeros((30, 3))
    r[:9, 0] = 0.01  # +9.37% in the first 9 days
    r[9:, 1] = 0.05  # all in the last 21 days: skipped
    r[:, 2] = np.nan
    got = momentum(r)
    assert got[0] == pytest.approx(1.01**9 - 1) and got[1] == 0.0 and np.isnan(got[2])
    with pytest.raises(ValueError, match="more than 21"):
        momentum(r[:21])


def _ranked_cluster() -> tuple[np.ndarray, list[str]]:
    """Four assets of one cluster, Sharpe A > B > C > D, 60 days."""
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, size=(60, 1))
    r = noise + np.array([0.004, 0.003, 0.002, 0.001]) + rng.normal(0, 0.002, size=(60, 4))
    return r, ["A", "B", "C", "D"]


def test_momentum_signal_ranks_by_momentum_not_sharpe() -> None:
    r, names = _ranked_cluster()
    # D: a strong start, then a fall inside the skipped last month (low Sharpe).
    r[:, 3] += np.r_[np.full(20, 0.02), np.zeros(19), np.full(21, -0.03)]
    labels = np.zeros(4, dtype=int)
    assert select_assets(r, names, labels, min_history=20).tickers == ("A",)
    by_momentum = select_assets(r, names, labels, min_history=20, signal="momentum")
    assert by_momentum.tickers == ("D",)
    assert by_momentum.stats[3].momentum == pytest.approx(momentum(r)[3])


def test_whole_cluster_and_top_n() -> None:
    r, names = _ranked_cluster()
    labels = np.zeros(4, dtype=int)
    assert select_assets(r, names, labels, min_history=20, top_n=2).tickers == ("A", "B")
    assert select_assets(r, names, labels, min_history=20, top_n=None).tickers == (
        "A", "B", "C", "D",
    )  # fmt: skip


def test_an_incumbent_within_the_margin_stays_in_place_of_the_last_newcomer() -> None:
    r, names = _ranked_cluster()
    labels = np.zeros(4, dtype=int)

    def pick(incumbents: tuple[str, ...], margin: int) -> tuple[str, ...]:
        return select_assets(
            r, names, labels, min_history=20, top_n=2, incumbents=incumbents, keep_margin=margin
        ).tickers

    assert pick(("C",), 0) == ("A", "B")  # no margin: the ranking alone
    assert pick(("C",), 1) == ("A", "C")  # third, within 2 + 1: kept, B gives way
    assert pick(("D",), 1) == ("A", "B")  # fourth: out of the margin
    assert pick(("C", "D"), 2) == ("C", "D")  # both kept, both newcomers give way
    assert pick(("A", "C"), 1) == ("A", "C")  # an incumbent never displaces another
