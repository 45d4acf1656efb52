"""shared.regime.hmm: the forward filter against hmmlearn, no look-ahead, a fit finding regimes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shared.regime.features import Standardiser, market_features
from shared.regime.hmm import GaussianHMM, filtered, fit_hmm
from tests.shared.regime.test_jump import _two_regimes


def _model(seed: int = 0) -> GaussianHMM:
    rng = np.random.default_rng(seed)
    return GaussianHMM(
        Standardiser(np.zeros(3), np.ones(3)),
        np.array([0.6, 0.4]),
        np.array([[0.97, 0.03], [0.08, 0.92]]),
        rng.normal(size=(2, 3)),
        rng.uniform(0.3, 2.0, size=(2, 3)),
    )


def _hmmlearn(model: GaussianHMM):  # type: ignore[no-untyped-def]
    from hmmlearn.hmm import GaussianHMM as Theirs

    theirs = Theirs(n_components=2, covariance_type="diag", init_params="", params="")
    theirs.startprob_, theirs.transmat_ = model.startprob, model.transmat
    theirs.means_, theirs.covars_ = model.means, model.variances
    return theirs


def test_the_filter_equals_hmmlearns_smoothed_probability_on_each_last_day() -> None:
    model = _model()
    z = np.random.default_rng(1).normal(size=(60, 3))
    ours = filtered(z, model)
    theirs = _hmmlearn(model)
    for t in (0, 9, 30, 59):
        # hmmlearn smooths over the sequence it is given: cut at t, its last row is the filter's.
        np.testing.assert_allclose(theirs.predict_proba(z[: t + 1])[-1], ours[t], atol=1e-10)
    # Over the whole sequence the smoothed probabilities look ahead and differ.
    assert not np.allclose(theirs.predict_proba(z)[:-1], ours[:-1], atol=1e-3)


def test_the_log_likelihood_is_hmmlearns() -> None:
    from shared.regime.hmm import _forward, _log_emissions

    model = _model(2)
    z = np.random.default_rng(3).normal(size=(200, 3))
    logb = _log_emissions(z, model.means, model.variances)
    _, _, loglik = _forward(logb, model.startprob, model.transmat)
    assert loglik == pytest.approx(_hmmlearn(model).score(z), rel=1e-10)


def test_the_filter_sees_no_future() -> None:
    model = _model(4)
    z = np.random.default_rng(5).normal(size=(100, 3))
    shocked = z.copy()
    shocked[70:] += 10.0
    np.testing.assert_array_equal(filtered(shocked, model)[:70], filtered(z, model)[:70])


def test_a_fit_finds_the_regimes_and_numbers_the_stressed_one_last() -> None:
    r, truth = _two_regimes(3)
    f = market_features(r)
    model = fit_hmm(f, r, n_states=2, seed=0)
    p = model.stress(f)
    assert ((p >= 0.5) == truth).mean() > 0.75
    assert r[p >= 0.5].mean() < r[p < 0.5].mean()
    np.testing.assert_allclose(model.transmat.sum(axis=1), 1.0)
    again = GaussianHMM.from_params(model.params())
    np.testing.assert_array_equal(again.stress(f), p)


def test_a_fit_raises_the_log_likelihood_above_its_start() -> None:
    from shared.regime.features import standardiser
    from shared.regime.hmm import _em_step, _start

    r, _ = _two_regimes(7, days=1500)
    f = market_features(r)
    scale = standardiser(f)
    z = scale(f)
    hmm = _start(z, scale, 2, np.random.default_rng(0))
    logliks = []
    for _ in range(15):
        hmm, _, loglik = _em_step(z, hmm)
        logliks.append(loglik)
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(logliks))  # EM's promise
