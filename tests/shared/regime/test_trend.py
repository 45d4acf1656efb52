"""shared.regime.trend: the moving-average rule by hand."""

from __future__ import annotations

import numpy as np

from shared.regime.trend import TrendRule


def test_stressed_below_the_moving_average_by_hand() -> None:
    closes = np.array([10.0, 11.0, 12.0, 9.0, 13.0, 12.0])
    # Averages of 3 from the third close: 11, 32/3, 34/3, 34/3.
    assert TrendRule(3).stress_of_closes(closes).tolist() == [0, 0, 0, 1, 0, 0]


def test_the_rule_is_causal_and_round_trips() -> None:
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 500)))
    rule = TrendRule(50)
    shocked = closes.copy()
    shocked[400:] *= 0.5
    np.testing.assert_array_equal(
        rule.stress_of_closes(shocked)[:400], rule.stress_of_closes(closes)[:400]
    )
    assert TrendRule.from_params(rule.params()) == rule
