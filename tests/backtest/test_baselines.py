"""backtest.baselines: the registry, and each baseline against a hand-made case."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from backtest.baselines import (
    ALL_ASSET_CAP,
    BASELINES,
    MOMENTUM_N,
    Context,
    correlation_embeddings,
    unavailable,
    weight_vector,
)
from inferer.select import momentum
from shared.config import Settings
from shared.returns import trailing_returns


def test_correlation_embeddings_distance_is_correlation_distance() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=(250, 4)) @ rng.normal(size=(4, 4))
    z = correlation_embeddings(r)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    rho = np.corrcoef(r, rowvar=False)
    d = np.linalg.norm(z[:, None] - z[None], axis=2)
    np.testing.assert_allclose(d, np.sqrt(np.clip(2 * (1 - rho), 0, None)), atol=1e-7)


def _context(prices: dict[str, list[float | None]], candidates: list[str]) -> Context:
    n = len(next(iter(prices.values())))
    start = dt.date(2024, 1, 1)
    frame = pl.DataFrame({"date": [start + dt.timedelta(days=k) for k in range(n)], **prices})
    return Context(frame, list(prices), candidates, Settings.model_validate({}))


def test_weight_vector_puts_weights_in_ticker_order() -> None:
    got = weight_vector({"C": 0.25, "A": 0.75}, ["A", "B", "C"])
    np.testing.assert_array_equal(got, [0.75, 0.0, 0.25])


def test_equal_weight_is_one_over_the_assets_priced_today() -> None:
    ctx = _context({"A": [1.0, 1.1], "B": [2.0, None], "C": [3.0, 3.3], "D": [4.0, 4.4]}, [])
    np.testing.assert_allclose(BASELINES["equal_weight"](ctx), [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_hrp_all_leaves_out_incomplete_and_flat_histories() -> None:
    rng = np.random.default_rng(1)
    walk = lambda s: list(100 * np.cumprod(1 + rng.normal(0, s, 60)))  # noqa: E731
    gap = walk(0.01)
    gap[30] = None
    ctx = _context({"A": walk(0.01), "B": walk(0.02), "GAP": gap, "FLAT": [5.0] * 60}, [])
    w = BASELINES["hrp_all"](ctx)
    assert w[2] == 0.0 and w[3] == 0.0
    # Two uncorrelated assets: HRP is inverse variance.
    r = np.diff(np.array(ctx.past.select("A", "B").to_numpy()), axis=0)
    r = r / np.array(ctx.past.select("A", "B").to_numpy())[:-1]
    inv = 1 / r.var(axis=0, ddof=1)
    np.testing.assert_allclose(w[:2], inv / inv.sum(), rtol=1e-9)


def _walks(n: int, days: int, seed: int, vols: list[float] | None = None) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    vols = vols or [0.01] * n
    return {
        f"A{j}": list(100 * np.cumprod(1 + rng.normal(0.0003 * j, vols[j], days))) for j in range(n)
    }


def test_every_all_asset_baseline_leaves_cash_out() -> None:
    prices = _walks(4, 300, 2)
    prices["BIL"] = list(100 * np.cumprod(np.full(300, 1.0001)))  # T-bill: 0 volatility
    ctx = _context(prices, [])
    for name in ("inverse_vol", "hrp_all", "max_sharpe_all", "momentum"):
        w = BASELINES[name](ctx)
        assert w[-1] == 0.0 and w.sum() == pytest.approx(1.0), name


def test_sixty_forty_and_inverse_vol_by_hand() -> None:
    prices = _walks(2, 300, 3, vols=[0.01, 0.02])
    ctx = _context({"SPY": prices["A0"], "AGG": prices["A1"], "X": prices["A0"]}, [])
    np.testing.assert_array_equal(BASELINES["sixty_forty"](ctx), [0.6, 0.4, 0.0])
    r = trailing_returns(ctx.past, ["SPY", "AGG", "X"], 252)
    inv = 1 / r.std(axis=0, ddof=1)
    np.testing.assert_allclose(BASELINES["inverse_vol"](ctx), inv / inv.sum(), rtol=1e-12)


def test_momentum_holds_the_best_ten_by_12_1_momentum() -> None:
    ctx = _context(_walks(14, 300, 4), [])
    r = trailing_returns(ctx.past, ctx.tickers, 252)
    best = set(np.argsort(-momentum(r))[:MOMENTUM_N])
    w = BASELINES["momentum"](ctx)
    assert set(np.flatnonzero(w)) == best
    np.testing.assert_allclose(w[sorted(best)], 1 / MOMENTUM_N)


def test_max_sharpe_all_respects_its_cap() -> None:
    ctx = _context(_walks(60, 300, 5), [])  # 2 / 60 < the cap: the cap binds
    w = BASELINES["max_sharpe_all"](ctx)
    assert w.sum() == pytest.approx(1.0) and w.max() <= ALL_ASSET_CAP + 1e-9


def test_random_clusters_are_seeded_and_as_many_as_the_strategy_has() -> None:
    prices = _walks(12, 300, 6)
    ctx = replace(_context(prices, list(prices)), n_clusters=3)
    first, again = BASELINES["random_cluster"](ctx), BASELINES["random_cluster"](ctx)
    np.testing.assert_array_equal(first, again)
    # One pick per cluster (top_n 1): three holdings.
    assert np.count_nonzero(first) == 3
    other_seed = replace(ctx, settings=Settings.model_validate({"backtest": {"seed": 1}}))
    assert not np.array_equal(first, BASELINES["random_cluster"](other_seed))


def test_class_clusters_pick_one_asset_per_class() -> None:
    prices = _walks(6, 300, 7)
    classes = {"A0": "equity", "A1": "equity", "A2": "bond", "A3": "bond", "A4": "fx", "A5": "fx"}
    w = BASELINES["class_cluster"](replace(_context(prices, list(prices)), classes=classes))
    held = {classes[t] for t, x in zip(prices, w, strict=True) if x > 0}
    assert np.count_nonzero(w) == 3 and held == {"equity", "bond", "fx"}


def test_a_baseline_without_its_tickers_or_classes_is_unavailable() -> None:
    assert unavailable("sixty_forty", ["SPY", "TLT"], {}) == "AGG not in the prices"
    assert unavailable("sixty_forty", ["SPY", "AGG"], {}) is None
    assert "no asset class" in str(unavailable("class_cluster", ["A"], {}))
    assert unavailable("class_cluster", ["A"], {"A": "equity"}) is None
    assert unavailable("momentum", [], {}) is None


def test_a_data_condition_in_a_baseline_is_an_estimation_error(sample_prices) -> None:  # type: ignore[no-untyped-def]
    # A lookback too short for 12-1 momentum, and no eligible asset for HRP: the
    # engine keeps the baseline's previous weights, saying so, instead of a traceback.
    from backtest.baselines import BASELINES
    from shared.errors import EstimationError

    settings = Settings.model_validate({"inference": {"lookback": 20, "min_history": 20}})
    past = sample_prices.head(400)
    tickers = [c for c in past.columns if c != "date"]
    with pytest.raises(EstimationError, match="12-1 momentum needs more than 21 returns"):
        BASELINES["momentum"](Context(past, tickers, tickers, settings))
    flat = past.select("date", *[pl.lit(1.0).alias(t) for t in tickers])
    with pytest.raises(EstimationError, match="HRP needs"):
        BASELINES["hrp_all"](Context(flat, tickers, tickers, settings))
