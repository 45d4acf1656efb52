"""Ex-ante risk: contributions sum to one, match a hand case, group by addition."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from backtest.risk import group_contributions, risk_contributions, target_risk


def test_risk_contributions_by_hand() -> None:
    cov = np.array([[0.04, 0.0], [0.0, 0.01]])
    w = np.array([0.5, 0.5])
    # Variance 0.25 * 0.04 + 0.25 * 0.01 = 0.0125; asset 1 carries 0.01 of it.
    np.testing.assert_allclose(risk_contributions(w, cov), [0.8, 0.2])
    assert risk_contributions(w, np.zeros((2, 2))).tolist() == [0.0, 0.0]


def test_target_risk_on_the_sample(sample_prices: pl.DataFrame) -> None:
    past = sample_prices.filter(pl.col("date") <= dt.date(2019, 6, 28))
    weights = {"AAPL": 0.5, "KO": 0.3, "XOM": 0.2}
    risk = target_risk(past, weights, 252, 252.0, "ledoit_wolf")
    assert sum(risk.contributions.values()) == pytest.approx(1.0)
    assert 0.05 < risk.vol < 0.4
    grouped = group_contributions(risk.contributions, {"AAPL": "tech", "KO": "staples"})
    assert list(grouped) == sorted(grouped, key=lambda k: -grouped[k])
    assert grouped["unknown"] == pytest.approx(risk.contributions["XOM"])
    # Cash carries no risk: half the weights, half the volatility.
    half = target_risk(past, {t: w / 2 for t, w in weights.items()}, 252, 252.0, "ledoit_wolf")
    assert half.vol == pytest.approx(risk.vol / 2, rel=1e-9)
    assert target_risk(past, {}, 252, 252.0, "ledoit_wolf").vol == 0.0
    assert math.isnan(target_risk(past.head(1), weights, 252, 252.0, "ledoit_wolf").vol)
