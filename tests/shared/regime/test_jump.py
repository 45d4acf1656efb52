"""shared.regime.jump: the dynamic programme by hand, online reading, fitting, ordering."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from shared.regime.features import Standardiser, market_features
from shared.regime.jump import JumpModel, best_states, fit_jump_model, online_states


def _total(z: np.ndarray, centers: np.ndarray, states: tuple[int, ...], penalty: float) -> float:
    cost = sum(0.5 * float(((z[t] - centers[s]) ** 2).sum()) for t, s in enumerate(states))
    return cost + penalty * sum(a != b for a, b in itertools.pairwise(states))


@pytest.mark.parametrize("penalty", [0.0, 0.3, 1.0, 5.0])
def test_the_best_sequence_is_the_brute_force_one(penalty: float) -> None:
    rng = np.random.default_rng(int(penalty * 10))
    z = rng.normal(size=(8, 2))
    centers = np.array([[0.0, 0.0], [1.0, -0.5], [-1.0, 1.0]])
    every = itertools.product(range(3), repeat=len(z))
    brute = min(every, key=lambda s: _total(z, centers, s, penalty))
    got = best_states(z, centers, penalty)
    assert _total(z, centers, tuple(got), penalty) == pytest.approx(
        _total(z, centers, brute, penalty)
    )


def test_the_penalty_keeps_a_state_through_a_brief_move_by_hand() -> None:
    z = np.array([[0.0], [0.0], [1.0], [0.0], [0.0]])
    centers = np.array([[0.0], [1.0]])
    # Leaving for the one day and coming back costs two jumps to save 1/2 (1 - 0)^2.
    assert best_states(z, centers, 0.2).tolist() == [0, 0, 1, 0, 0]
    assert best_states(z, centers, 0.3).tolist() == [0, 0, 0, 0, 0]


def test_online_states_are_the_last_state_of_each_prefix_and_see_no_future() -> None:
    rng = np.random.default_rng(1)
    z = np.cumsum(rng.normal(size=(120, 3)), axis=0) / 10
    centers = rng.normal(size=(2, 3))
    online = online_states(z, centers, 1.0)
    for t in range(len(z)):
        prefix = z[: t + 1]
        assert online[t] == best_states(prefix, centers, 1.0)[-1]
        shocked = np.vstack([prefix, z[t + 1 :] + 50.0])  # the future, perturbed
        assert online_states(shocked, centers, 1.0)[t] == online[t]


def _two_regimes(seed: int, days: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Calm (+0.05%/day, 0.7% vol) and stressed (-0.15%/day, 2.5% vol) spells of 60-250 days."""
    rng = np.random.default_rng(seed)
    truth, state = [], 0
    while len(truth) < days:
        truth += [state] * int(rng.integers(60, 250))
        state = 1 - state
    truth_arr = np.array(truth[:days])
    r = np.where(truth_arr == 0, rng.normal(0.0005, 0.007, days), rng.normal(-0.0015, 0.025, days))
    return r, truth_arr


def test_a_fit_finds_the_regimes_and_numbers_the_stressed_one_last() -> None:
    r, truth = _two_regimes(3)
    f = market_features(r)
    model = fit_jump_model(f, r, n_states=2, penalty=50.0, seed=0)
    decoded = best_states(model.scale(f), model.centers, 50.0)
    assert (decoded == truth).mean() > 0.75  # in sample, the whole segment at once
    states = model.states(f)  # online: each day from the days up to it, so it lags a switch
    assert (states == truth).mean() > 0.65
    assert r[states == 1].mean() < r[states == 0].mean()  # 1: stressed, after any refit
    switches = np.count_nonzero(np.diff(states))
    assert switches < 3 * np.count_nonzero(np.diff(truth))  # persistent, not flickering


def test_refits_on_other_windows_agree_on_which_state_is_stressed() -> None:
    r, truth = _two_regimes(4, days=4000)
    f = market_features(r)
    a = fit_jump_model(f[:2500], r[:2500], n_states=2, penalty=50.0, seed=0).states(f)
    b = fit_jump_model(f[1500:], r[1500:], n_states=2, penalty=50.0, seed=1).states(f)
    assert (a[2500:] == b[2500:]).mean() > 0.85
    assert (b[2500:] == truth[2500:]).mean() > 0.65


def test_a_model_reads_with_numpy_alone() -> None:
    model = JumpModel(Standardiser(np.zeros(9), np.ones(9)), np.zeros((2, 9)), 1.0)
    assert model.states(market_features(np.full(10, 0.001))).tolist() == [0] * 10


def test_on_the_benchmarks_history_2008_and_2020_are_stressed(shared_benchmark_path: Path) -> None:
    import polars as pl

    frame = pl.read_csv(shared_benchmark_path, try_parse_dates=True)
    prices = frame["SPY"].to_numpy()
    r = prices[1:] / prices[:-1] - 1
    dates = frame["date"].to_numpy()[1:]
    fit = dates < np.datetime64("2006-01-01")
    f = market_features(r)
    model = fit_jump_model(f[fit], r[fit], n_states=2, penalty=50.0, seed=0)
    states = model.states(f)  # fitted on 1993-2005 only, read online ever after

    def share(first: str, last: str) -> float:
        days = (dates >= np.datetime64(first)) & (dates <= np.datetime64(last))
        return float((states[days] == 1).mean())

    assert share("2008-09-15", "2009-03-09") > 0.7  # the financial crisis
    assert share("2020-02-24", "2020-04-30") > 0.5  # the Covid crash
    assert share("2017-01-01", "2017-12-31") < 0.2  # a calm year


def test_the_dynamic_programme_matches_jumpmodels() -> None:
    """The paper's authors' package solves the same programme: same path, same online states."""
    from jumpmodels.jump import dp, jump_penalty_to_mx

    from shared.regime.jump import _costs

    rng = np.random.default_rng(5)
    z = np.cumsum(rng.normal(size=(400, 4)), axis=0) / 8
    centers = rng.normal(size=(3, 4))
    loss, penalty = _costs(z, centers), jump_penalty_to_mx(2.0, 3)
    theirs, _ = dp(loss, penalty)
    np.testing.assert_array_equal(best_states(z, centers, 2.0), theirs)
    values = dp(loss, penalty, return_value_mx=True)
    np.testing.assert_array_equal(online_states(z, centers, 2.0), values.argmin(axis=1))


def test_a_fit_agrees_with_jumpmodels_fit() -> None:
    from jumpmodels.jump import JumpModel as TheirJumpModel

    r, _ = _two_regimes(6)
    ours = fit_jump_model(market_features(r), r, n_states=2, penalty=50.0, seed=0)
    z = ours.scale(market_features(r))
    theirs = TheirJumpModel(n_components=2, jump_penalty=50.0, random_state=0).fit(z)
    a = best_states(z, ours.centers, 50.0)
    b = np.asarray(theirs.labels_)
    agree = max((a == b).mean(), (a == 1 - b).mean())  # their states are not ordered
    assert agree > 0.97
