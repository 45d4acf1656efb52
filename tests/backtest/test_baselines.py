"""backtest.baselines: the registry, and each baseline against a hand-made case."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from backtest.baselines import BASELINES, Context, correlation_embeddings, weight_vector
from shared.config import Settings


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
