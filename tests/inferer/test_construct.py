"""inferer.construct: within and across clusters, caps, the absolute filter, the vol target."""

from __future__ import annotations

import numpy as np
import pytest

from inferer.construct import cap_groups, cluster_returns, construct, vol_scale
from inferer.moments import covariance
from shared.config import InferenceSettings


def _cfg(**kw: object) -> InferenceSettings:
    return InferenceSettings.model_validate(kw)


def _build(
    r: np.ndarray,
    groups: list[int],
    excess: list[float] | None = None,
    classes: list[str] | None = None,
    **kw: object,
):
    m = r.shape[1]
    return construct(
        r,
        [f"T{j}" for j in range(m)],
        np.array(groups),
        _cfg(**kw),
        periods_per_year=252,
        risk_free_rate=0.0,
        excess_returns=np.array(excess if excess is not None else [0.05] * m),
        classes=classes,
    )


def _returns(vols: list[float], days: int = 500, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0004, vols, size=(days, len(vols)))


def test_cap_groups_by_hand() -> None:
    # Group a (0.8) is cut to 0.6; its 0.2 goes to b, the only group with room.
    got = cap_groups(np.array([0.5, 0.3, 0.2]), ["a", "a", "b"], 0.6)
    np.testing.assert_allclose(got, [0.375, 0.225, 0.4])
    # Every group at the cap: what is left over is cash.
    np.testing.assert_allclose(cap_groups(np.array([0.5, 0.5]), ["a", "b"], 0.4), [0.4, 0.4])
    np.testing.assert_array_equal(cap_groups(np.array([0.7, 0.3]), ["a", "b"], 1.0), [0.7, 0.3])


def test_cluster_returns_average_the_members_present() -> None:
    r = np.array([[0.01, 0.03, 0.05], [np.nan, 0.02, 0.04], [np.nan, np.nan, 0.01]])
    got = cluster_returns(r, np.array([0, 0, 1]), np.array([0.5, 0.5, 1.0]))
    np.testing.assert_allclose(got[:, 0], [0.02, 0.02, np.nan])
    np.testing.assert_array_equal(got[:, 1], r[:, 2])  # one member: its own returns, exactly


def test_within_equal_and_across_equal_by_hand() -> None:
    p = _build(_returns([0.01, 0.02, 0.01, 0.04]), [0, 0, 1, 1], method="equal")
    np.testing.assert_allclose(p.weights, [0.25] * 4)
    q = _build(
        _returns([0.01, 0.02, 0.01, 0.04]), [0, 0, 1, 1], method="equal", within="inverse_vol"
    )
    r = _returns([0.01, 0.02, 0.01, 0.04])
    inv = 1 / r.std(axis=0, ddof=1)
    expected = 0.5 * np.r_[inv[:2] / inv[:2].sum(), inv[2:] / inv[2:].sum()]
    np.testing.assert_allclose(q.weights, expected, rtol=1e-12)


def test_one_pick_per_cluster_is_the_allocation_over_the_picks() -> None:
    from inferer.allocate import allocate

    r = _returns([0.01, 0.02, 0.015])
    p = _build(r, [0, 1, 2], method="hrp")
    cfg = InferenceSettings()
    expected = allocate(r, "hrp", fallback=cfg.fallback, covariance=cfg.covariance)
    np.testing.assert_array_equal(p.weights, expected.weights)


def test_cluster_and_class_caps_hold_and_hand_the_excess_on() -> None:
    r = _returns([0.005, 0.006, 0.02, 0.03])  # the calm pair would take most of the weight
    p = _build(r, [0, 0, 1, 2], method="inverse_vol", max_cluster_weight=0.5)
    assert p.weights[:2].sum() == pytest.approx(0.5) and p.weights.sum() == pytest.approx(1.0)
    classes = ["bond", "bond", "equity", "bond"]
    q = _build(r, [0, 1, 2, 3], method="inverse_vol", max_class_weight=0.7, classes=classes)
    bonds = q.weights[[0, 1, 3]].sum()
    assert bonds == pytest.approx(0.7) and q.weights[2] == pytest.approx(0.3)
    # A cap every class meets leaves the rest in cash.
    tight = _build(r, [0, 1, 2, 3], method="inverse_vol", max_class_weight=0.4, classes=classes)
    np.testing.assert_allclose([tight.weights[[0, 1, 3]].sum(), tight.weights[2]], [0.4, 0.4])


def test_absolute_filter_sends_a_losing_pick_to_cash() -> None:
    r = _returns([0.01, 0.01, 0.01])
    p = _build(r, [0, 1, 2], excess=[0.05, -0.01, 0.0], method="equal", absolute_filter=True)
    np.testing.assert_allclose(p.weights, [1 / 3, 0.0, 0.0])
    assert set(p.notes) == {"T1", "T2"} and "absolute filter" in p.notes["T1"]


def test_vol_target_hits_its_target_on_returns_of_known_covariance() -> None:
    rng = np.random.default_rng(11)
    vols = np.array([0.15, 0.25, 0.10, 0.30]) / np.sqrt(252)
    corr = np.full((4, 4), 0.3) + 0.7 * np.eye(4)
    cov = np.outer(vols, vols) * corr
    past = rng.multivariate_normal(np.zeros(4), cov, size=5000)
    p = _build(past, [0, 1, 2, 3], method="equal", vol_target=0.08, covariance="sample")
    # Ex ante, under the estimate: exactly the target.
    est = covariance(past, 252, "sample")
    assert np.sqrt(p.weights @ est @ p.weights) == pytest.approx(0.08, rel=1e-9)
    # On fresh draws from the same covariance: the target, to sampling error.
    future = rng.multivariate_normal(np.zeros(4), cov, size=20_000) @ p.weights
    assert future.std() * np.sqrt(252) == pytest.approx(0.08, rel=0.03)
    assert p.weights.sum() < 1 and "vol target" in p.notes["(portfolio)"]


def test_vol_target_never_levers_up() -> None:
    assert vol_scale(0.05, 0.10) == 1.0 and vol_scale(0.20, 0.10) == 0.5
    assert vol_scale(float("nan"), 0.10) == 1.0 and vol_scale(0.20, 0.0) == 1.0


def test_a_cluster_cap_too_tight_for_the_clusters_leaves_the_rest_in_cash() -> None:
    # Three clusters cannot each hold at most 25%: 75% invested, 25% cash, no error.
    p = _build(_returns([0.01, 0.02, 0.015]), [0, 1, 2], method="equal", max_cluster_weight=0.25)
    np.testing.assert_allclose(p.weights, [0.25, 0.25, 0.25])


def test_what_the_caps_send_to_cash_is_said_in_the_notes() -> None:
    # The live job warns with it and writes it in the run JSON's construction notes.
    p = _build(_returns([0.01, 0.02, 0.015]), [0, 1, 2], method="equal", max_cluster_weight=0.25)
    assert "caps: 25.00% of the book to cash" in p.notes["(caps)"]
    assert "max_cluster_weight 0.25" in p.notes["(caps)"]
    loose = _build(_returns([0.01, 0.02, 0.015]), [0, 1, 2], method="equal")
    assert "(caps)" not in loose.notes


def test_caps_that_cycle_still_all_hold_the_rest_in_cash() -> None:
    # Seen on real data (a seed ensemble, 2017-04-28): two classes capped at 50%, one of
    # them a single pick whose cluster is capped at 25%. The cluster cap moved its excess
    # to the other class, the class cap moved it back, and the book kept 50% in one cluster.
    from inferer.construct import _capped
    from shared.config import InferenceSettings

    cfg = InferenceSettings(max_cluster_weight=0.25, max_class_weight=0.5)
    w = np.array([0.1, 0.1, 0.1, 0.5, 0.0, 0.1, 0.1])
    groups = np.array([0, 0, 1, 2, 2, 3, 3])
    classes = ["stock", "stock", "stock", "alts", "stock", "stock", "stock"]
    capped = _capped(w, groups, classes, cfg)
    assert np.bincount(groups, weights=capped).max() <= 0.25 + 1e-12
    assert capped[3] == pytest.approx(0.25) and capped.sum() == pytest.approx(0.75)
    stocks = sum(x for x, c in zip(capped, classes, strict=True) if c == "stock")
    assert stocks <= 0.5 + 1e-12
    # A book whose caps hold is left exactly as it is.
    fine = np.array([0.2, 0.05, 0.25, 0.25, 0.0, 0.125, 0.125])
    assert np.array_equal(_capped(fine, groups, ["a", "b", "a", "c", "c", "b", "b"], cfg), fine)
