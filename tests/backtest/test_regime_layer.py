"""backtest.regime_layer, and the engine with the layer on: switches, baselines, live = backtest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.engine import run_backtest
from backtest.rebalances import SWITCH
from backtest.regime_layer import Layer, schedule, switches
from inferer.pipeline import decide_asof
from inferer.regime import overlay
from shared.bundle import find_bundle
from shared.config import Settings
from tests.shocks import shock_after

START, END = dt.date(2018, 1, 1), dt.date(2019, 6, 30)


def _settings(**regime: object) -> Settings:
    return Settings.model_validate(
        {
            "data": {"benchmark": "SP500"},
            "inference": {"min_clusters": 3, "max_clusters": 6, "risk_free": 0.02},
            "backtest": {"cost_bps": 10},
            # The sample starts in 2014: a two-year span, fitted on the panel's SP500.
            "regime": {"train_years": 2, "trend_days": 50, **regime},
        }
    )


def test_switches_by_hand() -> None:
    decided = np.array([2, 6])
    exposure = np.array([1, 1, 1, 1, 0, 0, 0, 1, 1, 0.0])
    # Rebalance 0 applied 1; day 4 turns it to 0. Rebalance 1 (day 6) applied 0; day 7 back
    # to 1, day 9 to 0 but its trade (day 10) is past the data.
    assert switches(decided, [1.0, 0.0], exposure, 1, 10) == [(0, 4, 0.0), (1, 7, 1.0)]
    # Read at rebalance 1 as 1 (say a kept decision): the change on day 6 is not looked at.
    assert switches(decided, [1.0, 1.0], exposure, 0, 10) == [(0, 4, 0.0), (1, 9, 0.0)]


def test_a_schedule_merges_switches_between_rebalances() -> None:
    layer = Layer()
    layer.add({"A": 0.6, "B": 0.4}, 1.0)
    layer.add({"A": 1.0}, 1.0)
    targets = [np.array([0.6, 0.4, 0.0]), np.array([1.0, 0.0, 0.0])]
    days, rows, flags = schedule(
        np.array([3, 7]), targets, layer, [(0, 4, 0.5)], 1, ["A", "B", "BIL"], "BIL"
    )
    assert days.tolist() == [3, 5, 7] and flags.tolist() == [False, True, False]
    np.testing.assert_allclose(rows[1], [0.3, 0.2, 0.5])


@pytest.fixture(scope="module")
def trend_run(sample_prices: pl.DataFrame, sample_models: Path):  # type: ignore[no-untyped-def]
    return run_backtest(sample_prices, _settings(model="trend"), sample_models, START, END)


def test_the_layer_adds_its_baselines_and_trades_its_switches(trend_run) -> None:  # type: ignore[no-untyped-def]
    assert {"equal_weight_regime", "trend_timing"} <= set(trend_run.returns.columns)
    reb = trend_run.rebalances
    moved = reb.filter(pl.col("method_used") == SWITCH)
    assert moved.height > 0 and (moved["turnover"] > 0).all()
    # Each switch changes the exposure the row before it applied.
    exposure = reb["exposure"].to_list()
    for i in np.flatnonzero((reb["method_used"] == SWITCH).to_numpy()):
        assert exposure[i] != exposure[i - 1]
    regime = trend_run.regime
    assert regime is not None and regime["date"].equals(trend_run.returns["date"])
    # A stressed decision holds only cash: the risk-free rate is a number here.
    for alloc in trend_run.allocations:
        assert alloc.regime is not None
        expected = overlay(alloc.risky_weights, alloc.regime.exposure, 0.02, [])
        assert alloc.weights == pytest.approx(expected)
    assert any(a.regime.stressed for a in trend_run.allocations)  # type: ignore[union-attr]


def test_equal_weight_with_the_layer_is_equal_weight_scaled(trend_run) -> None:  # type: ignore[no-untyped-def]
    r = trend_run.returns
    calm = trend_run.regime["exposure"].to_numpy() == 1.0
    # Where every day since the first is calm, the two series are the same book.
    first_stress = int(np.argmin(calm)) if not calm.all() else calm.size
    np.testing.assert_allclose(
        r["equal_weight_regime"].to_numpy()[:first_stress],
        r["equal_weight"].to_numpy()[:first_stress],
    )


def test_at_the_rebalance_timing_there_are_no_switch_trades(
    sample_prices: pl.DataFrame, sample_models: Path
) -> None:
    run = run_backtest(
        sample_prices, _settings(model="trend", timing="rebalance"), sample_models, START, END
    )
    assert SWITCH not in run.rebalances["method_used"].to_list()


def test_the_layer_sees_no_future(
    sample_prices: pl.DataFrame, sample_models: Path, trend_run
) -> None:  # type: ignore[no-untyped-def]
    cut = dt.date(2018, 9, 28)
    shocked = shock_after(sample_prices, cut, 3, 0.6, 1.2)
    other = run_backtest(shocked, _settings(model="trend"), sample_models, START, END)
    before = pl.col("date") <= cut
    assert trend_run.returns.filter(before).equals(other.returns.filter(before))
    assert trend_run.regime.filter(before).equals(other.regime.filter(before))
    # A row's turnover and cost are its trade's, a day after it: they see the day after.
    traded = lambda c: c.startswith("turnover") or c == "cost"  # noqa: E731
    decided = [c for c in trend_run.rebalances.columns if not traded(c)]
    rows = [r.rebalances.filter(before).select(decided) for r in (trend_run, other)]
    assert rows[0].height > 0 and rows[0].equals(rows[1])


@pytest.mark.parametrize(
    ("model", "features"), [("jump", "returns"), ("hmm", "returns"), ("jump", "both")]
)
def test_the_live_decision_is_the_backtests_on_the_same_day(
    sample_prices: pl.DataFrame, sample_models: Path, model: str, features: str
) -> None:
    settings = _settings(model=model, features=features, fraction=0.5)
    run = run_backtest(sample_prices, settings, sample_models, START, dt.date(2019, 3, 31))
    for alloc in run.allocations[-3:]:
        held = {}
        previous = [a for a in run.allocations if a.asof < alloc.asof]
        if previous:
            held = previous[-1].weights
        bundle = find_bundle(sample_models, alloc.asof, features=settings.features)
        live = decide_asof(sample_prices, alloc.asof, bundle, settings, incumbents=tuple(held))
        assert live.weights == pytest.approx(alloc.weights, abs=1e-12)
        assert live.regime == alloc.regime


def _regime_args(models: Path, tmp_path: Path, regime: str, end: str = "2018-06-30") -> list[str]:
    """``deepquant backtest`` arguments on the sample config with a ``[regime]`` section."""
    from tests.backtest.conftest import SAMPLE_CONFIG, backtest_args

    config = tmp_path / "regime.toml"
    text = SAMPLE_CONFIG.read_text().replace(
        'cache_dir = "../data/cache"', f'cache_dir = "{tmp_path}"'
    )
    config.write_text(f"{text}\n[regime]\n{regime}\n")
    args = backtest_args(models, "2018-01-01", end, tmp_path / "bt")
    args[args.index("--config") + 1] = str(config)
    return args


def test_the_report_shows_the_regimes(sample_models: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from deepquant.cli import cli

    regime = 'model = "trend"\ntrain_years = 2\ntrend_days = 50'
    args = _regime_args(sample_models, tmp_path, regime, "2019-06-30")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    html = (tmp_path / "bt" / "report.html").read_text()
    section = html[html.index('<section id="regime">') :]
    section = section[: section.index("</section>")]
    assert "Model: trend" in section and "<th>calm</th>" in section and "<img" in section
    rebalances = pl.read_csv(tmp_path / "bt" / "rebalances.csv")
    assert rebalances["exposure"].is_not_null().all()
    # Drawn again from the folder's files: the same section.
    again = CliRunner().invoke(cli, ["report", str(tmp_path / "bt")])
    assert again.exit_code == 0, again.output
    redrawn = (tmp_path / "bt" / "report.html").read_text()
    assert redrawn.count('<section id="regime">') == 1


def test_regime_history_on_the_command_line(
    sample_models: Path, tmp_path: Path, shared_benchmark_path: Path
) -> None:
    """``--regime-history`` (and its variable) replaces ``[regime] history``."""
    import json

    from click.testing import CliRunner

    from deepquant.cli import cli

    args = _regime_args(sample_models, tmp_path, 'model = "trend"\nhistory = "nowhere.csv"')
    # The config's file is missing: one line naming it, exit 2.
    missing = CliRunner().invoke(cli, args)
    assert missing.exit_code == 2 and "nowhere.csv: [regime] history file not found" in (
        missing.output
    )
    # --regime-history replaces it; SPY's closes since 1993 (as the sample's benchmark) serve.
    history = tmp_path / "history.csv"
    pl.read_csv(shared_benchmark_path).rename({"SPY": "SP500"}).write_csv(history)
    given = CliRunner().invoke(cli, [*args, "--regime-history", str(history)])
    assert given.exit_code == 0, given.output
    inputs = json.loads((tmp_path / "bt" / "report_inputs.json").read_text())
    assert inputs["settings"]["regime"]["history"] == str(history)
    # Its environment variable does the same.
    env = {"DEEPQUANT_REGIME_HISTORY": str(tmp_path / "other.csv")}
    other = CliRunner().invoke(cli, args, env=env)
    assert other.exit_code == 2 and "other.csv: [regime] history file not found" in other.output
