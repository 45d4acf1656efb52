"""backtest.plots: every chart builds from realistic data, reads right and saves as a PNG."""

from __future__ import annotations

import datetime as dt
import math
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import linkage

from backtest import plots
from backtest import report_data as rd
from backtest.frontier import Frontier, efficient_frontier
from backtest.names import SECTIONS, series_label
from backtest.rolling import rolling_beta, rolling_vol
from shared import metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SERIES = ("strategy", "benchmark", "equal_weight", "hrp_all")


def business_days(start: dt.date, n: int) -> list[dt.date]:
    days: list[dt.date] = []
    d = start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    return days


@pytest.fixture(scope="module")
def returns() -> pl.DataFrame:
    """600 trading days of four fat-tailed series, a common market factor in each."""
    rng = np.random.default_rng(7)
    n = 600
    market = 0.011 * rng.standard_t(5, n) / math.sqrt(5 / 3)
    cols: dict[str, object] = {"date": business_days(dt.date(2021, 1, 4), n)}
    for (name, drift, beta), idio in zip(
        [("strategy", 4e-4, 0.6), ("benchmark", 3e-4, 1.0), ("equal_weight", 2e-4, 0.8),
         ("hrp_all", 1e-4, 0.4)],
        (0.005, 0.0, 0.006, 0.003),
        strict=True,
    ):  # fmt: skip
        cols[name] = drift + beta * market + rng.normal(0.0, idio, n)
    return pl.DataFrame(cols, schema_overrides={"date": pl.Date})


@pytest.fixture(scope="module")
def weights() -> pl.DataFrame:
    """20 monthly rebalances, 8 of 30 tickers held each time, weights summing to 1."""
    rng = np.random.default_rng(3)
    tickers = [f"T{i:02d}" for i in range(30)]
    rows = []
    for day in business_days(dt.date(2021, 1, 4), 600)[::21][:20]:
        # T00 is always held and heaviest, so it must be named first.
        held = [0, *(1 + rng.choice(29, 7, replace=False))]
        w = np.concatenate([[0.3], 0.7 * rng.dirichlet(np.ones(7))])
        rows += [(day, tickers[j], float(x)) for j, x in zip(held, w, strict=True)]
    return pl.DataFrame(rows, schema=["date", "ticker", "weight"], orient="row")


@pytest.fixture(scope="module")
def front() -> Frontier:
    mu = np.array([0.05, 0.08, 0.10, 0.12, 0.03])
    vols = np.array([0.10, 0.15, 0.20, 0.25, 0.05])
    corr = np.full((5, 5), 0.3)
    np.fill_diagonal(corr, 1.0)
    cov = corr * np.outer(vols, vols)
    return efficient_frontier(
        mu, cov, n_portfolios=500, n_points=12, rf=0.01,
        extra_markers={"hrp": np.full(5, 0.2), "strategy": np.array([0.1, 0.3, 0.3, 0.2, 0.1])},
    )  # fmt: skip


def assert_png(path: Path, min_kb: float = 10.0) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_kb * 1024
    width, height = struct.unpack(">II", data[16:24])  # IHDR follows the magic
    return width, height


def lines_by_label(fig: Figure, ax_index: int = 0) -> dict[str, object]:
    """Lines keyed by series identifier, read back from their labels."""
    by_label = {series_label(name): name for name in SERIES}
    ax = fig.axes[ax_index]
    return {by_label[line.get_label().split(" (")[0]]: line for line in ax.get_lines()
            if line.get_label().split(" (")[0] in by_label}  # fmt: skip


# --------------------------------------------------------------------------- returns charts


def test_equity_curves_log_wealth(returns: pl.DataFrame, tmp_path: Path) -> None:
    fig = plots.equity_curves(rd.growth(returns))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = lines_by_label(fig)
    assert set(SERIES) <= set(lines)
    wealth = np.cumprod(1.0 + returns["strategy"].to_numpy())
    np.testing.assert_allclose(lines["strategy"].get_ydata(), wealth)
    assert lines["strategy"].get_linewidth() > max(lines[s].get_linewidth() for s in SERIES[1:])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == f"Strategy ({wealth[-1]:.2f}×)"
    assert ax.get_title() == SECTIONS["equity"] == plots.title_of(fig)
    assert ax.get_ylabel()
    # At least four labelled ticks even though wealth spans less than a decade.
    assert len([t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]) >= 4

    out = plots.save(fig, tmp_path / "equity.png")
    assert out == tmp_path / "equity.png"
    assert assert_png(out) == (round(9 * plots.DPI), round(4.2 * plots.DPI))


def test_equity_curves_late_starter_is_hidden_until_it_starts(returns: pl.DataFrame) -> None:
    late = returns.with_columns(
        pl.when(pl.int_range(pl.len()) < 100)
        .then(None)
        .otherwise(pl.col("hrp_all"))
        .alias("hrp_all")
    )
    y = lines_by_label(plots.equity_curves(rd.growth(late)))["hrp_all"].get_ydata()
    assert np.isnan(y[:100]).all()
    assert y[100] == pytest.approx(1.0 + late["hrp_all"][100])


def test_drawdowns_non_positive_and_strategy_filled(returns: pl.DataFrame, tmp_path: Path) -> None:
    fig = plots.drawdowns(rd.drawdowns(returns))
    lines = lines_by_label(fig)
    for name in SERIES:
        y = np.asarray(lines[name].get_ydata())
        assert (y <= 0.0).all()
        assert y.min() == pytest.approx(metrics.max_drawdown(returns[name].to_numpy()))
    assert fig.axes[0].collections, "the strategy's drawdown is filled"
    assert_png(plots.save(fig, tmp_path / "dd.png"))


def test_rolling_sharpe_matches_metrics(returns: pl.DataFrame, tmp_path: Path) -> None:
    window = 126
    fig = plots.rolling_sharpe(rd.rolling_sharpe(returns, window=window, periods_per_year=252.0))
    y = np.asarray(lines_by_label(fig)["benchmark"].get_ydata())
    assert np.isnan(y[: window - 1]).all()
    r = returns["benchmark"].to_numpy()
    for end in (window, 400, 600):
        expected = metrics.sharpe(r[end - window : end], periods_per_year=252.0)
        assert y[end - 1] == pytest.approx(expected, rel=1e-9)
    assert "126-day" in fig.axes[0].get_title()
    assert_png(plots.save(fig, tmp_path / "rs.png"))


def test_rolling_sharpe_window_longer_than_sample(returns: pl.DataFrame) -> None:
    fig = plots.rolling_sharpe(rd.rolling_sharpe(returns.head(100), window=252))
    y = np.asarray(lines_by_label(fig)["strategy"].get_ydata())
    assert np.isfinite(y[-1]) and np.isnan(y[:-1]).all()
    assert "100-day" in fig.axes[0].get_title()


def test_returns_without_date_rejected(returns: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="date"):
        rd.growth(returns.drop("date"))
    with pytest.raises(ValueError, match="date"):
        plots.equity_curves(returns.drop("date"))


# --------------------------------------------------------------------------- weights


def test_class_weights_sum_by_class(weights: pl.DataFrame, tmp_path: Path) -> None:
    classes = {f"T{i:02d}": ("bond" if i % 3 == 0 else "equity") for i in range(30)}
    classes["ZZZ"] = "commodity"  # a class never held gets no layer
    fig = plots.class_weights(rd.class_weights(weights, classes), classes)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["bond", "equity"]
    held = (
        weights.with_columns(pl.col("ticker").replace_strict(classes).alias("class"))
        .group_by("date", "class")
        .agg(pl.col("weight").sum())
    )
    # The stack's top reaches the total weight (1) and the bottom layer is the heavier class.
    top_layer = ax.collections[-1].get_paths()[0].vertices
    assert top_layer[:, 1].max() == pytest.approx(1.0)
    heaviest = held.group_by("class").agg(pl.col("weight").sum()).sort("weight")["class"][-1]
    assert labels[-1] == heaviest
    assert ax.get_title() == SECTIONS["asset_classes"]
    assert_png(plots.save(fig, tmp_path / "classes.png"))


def test_rolling_risk_panels(returns: pl.DataFrame, tmp_path: Path) -> None:
    fig = plots.rolling_risk(*rd.rolling_risk(returns, 252.0, window=63))
    vol = lines_by_label(fig, 0)
    beta = {line.get_color(): line for line in fig.axes[1].get_lines()}
    r, b = returns["strategy"].to_numpy(), returns["benchmark"].to_numpy()
    end = 300
    expected_vol = np.std(r[end - 63 : end], ddof=1) * math.sqrt(252.0)
    assert vol["strategy"].get_ydata()[end - 1] == pytest.approx(expected_vol, rel=1e-9)
    cov = np.cov(r[end - 63 : end], b[end - 63 : end], ddof=1)
    strategy_beta = beta[vol["strategy"].get_color()].get_ydata()
    assert strategy_beta[end - 1] == pytest.approx(cov[0, 1] / cov[1, 1], rel=1e-9)
    # Four series, three betas (the benchmark's is 1 by definition) and the line at 1.
    assert len(fig.axes[1].get_lines()) == len(SERIES) - 1 + 1
    assert plots.title_of(fig) == SECTIONS["rolling"]
    assert_png(plots.save(fig, tmp_path / "rolling.png"))


def test_rolling_helpers_wait_for_a_full_window() -> None:
    r = np.random.default_rng(1).normal(size=50)
    assert np.isnan(rolling_vol(r, 10, 252.0)[:9]).all()
    assert np.isfinite(rolling_vol(r, 10, 252.0)[9:]).all()
    np.testing.assert_allclose(rolling_beta(3 * r, r, 10)[9:], 3.0)
    assert np.isnan(rolling_beta(r, np.zeros(50), 10)).all()  # a flat benchmark has no beta


def test_monthly_heatmap_prints_every_month(tmp_path: Path) -> None:
    from backtest.periods import monthly_returns

    days = business_days(dt.date(2021, 3, 1), 300)
    r = np.random.default_rng(2).normal(0.0005, 0.01, 300)
    table = monthly_returns(pl.DataFrame({"date": days, "strategy": r}), "strategy")
    fig = plots.monthly_heatmap(table)
    texts = [t.get_text() for t in fig.axes[0].texts]
    months = table.select([str(m) for m in range(1, 13)]).to_numpy()
    # One cell per month with data plus one total per year.
    assert len(texts) == int(np.isfinite(months.astype(float)).sum()) + table.height
    assert f"{table['total'][0]:.1%}" in texts
    assert plots.title_of(fig) == SECTIONS["monthly"]
    assert_png(plots.save(fig, tmp_path / "monthly.png"))


def test_risk_contribution_and_stability_charts(tmp_path: Path) -> None:
    fig = plots.risk_contribution(
        {"cluster 1": 0.7, "cluster 0": 0.3}, {"equity": 1.0}, ["bond", "equity"]
    )
    bars = [p.get_width() for p in fig.axes[0].patches]
    assert sorted(bars) == [0.3, 0.7]
    assert plots.title_of(fig) == SECTIONS["risk"]
    assert_png(plots.save(fig, tmp_path / "risk.png"))
    stability = pl.DataFrame(
        {"date": [dt.date(2021, 2, 26), dt.date(2021, 3, 31)], "k": [4, 5],
         "kept": [0.8, 1.0], "ari": [0.5, 1.0]},
    )  # fmt: skip
    fig = plots.cluster_stability(stability)
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == [0.8, 1.0]
    assert plots.title_of(fig) == SECTIONS["stability"]
    assert_png(plots.save(fig, tmp_path / "stability.png"), min_kb=5)


# --------------------------------------------------------------------------- dendrogram


def test_dendrogram_labels_and_selection(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tickers = [f"A{i:02d}" for i in range(30)]
    z = linkage(rng.normal(size=(30, 4)), method="ward")
    selected = ["A03", "A11", "A29"]
    fig = plots.dendrogram(z, tickers, selected=selected)
    labels = {t.get_text(): t for t in fig.axes[0].get_xticklabels()}
    assert set(labels) == set(tickers)
    for t in tickers:
        bold = labels[t].get_fontweight() == "bold"
        assert bold == (t in selected)
    assert "3 selected" in fig.axes[0].get_title()
    assert_png(plots.save(fig, tmp_path / "dendro.png"))


def test_dendrogram_large_universe_is_horizontal_and_tall() -> None:
    rng = np.random.default_rng(1)
    n = 320
    tickers = [f"T{i:03d}" for i in range(n)]
    classes = {t: ("equity", "bond", "fx")[i % 3] for i, t in enumerate(tickers)}
    fig = plots.dendrogram(linkage(rng.normal(size=(n, 6)), "average"), tickers,
                           selected=tickers[::40], asset_class=classes)  # fmt: skip
    ax = fig.axes[0]
    ticks = ax.get_yticklabels()
    assert len(ticks) == n
    assert max(t.get_fontsize() for t in ticks) <= 7.0
    width, height = fig.get_size_inches()
    # One row per leaf: at least ~0.1 in each, however many leaves there are.
    assert height >= 0.1 * n > width
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"equity", "bond", "fx", "selected (8)"} <= set(legend)


def test_dendrogram_past_max_leaves_draws_the_top_of_the_tree(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = plots.MAX_LEAVES * 3
    tickers = [f"T{i:04d}" for i in range(n)]
    fig = plots.dendrogram(linkage(rng.normal(size=(n, 4)), "ward"), tickers, asset_class={})
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == plots.MAX_LEAVES
    assert f"{n} assets" in ax.get_title() and f"top {plots.MAX_LEAVES} branches" in ax.get_title()
    assert fig.get_size_inches()[1] < 0.14 * plots.MAX_LEAVES + 2
    assert_png(plots.save(fig, tmp_path / "big.png"))


def test_dendrogram_without_asset_classes_does_not_colour_by_class() -> None:
    z = linkage(np.random.default_rng(3).normal(size=(8, 2)))
    fig = plots.dendrogram(z, [f"a{i}" for i in range(8)], selected=["a1"], asset_class={})
    assert "1 selected" in fig.axes[0].get_title()


def test_dendrogram_shape_mismatch() -> None:
    z = linkage(np.random.default_rng(0).normal(size=(5, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        plots.dendrogram(z, ["a", "b", "c"])


# --------------------------------------------------------------------------- frontier


def test_frontier_chart(front: Frontier, tmp_path: Path) -> None:
    fig = plots.frontier(front, dt.date(2022, 12, 30), 252)
    ax = fig.axes[0]
    assert len(fig.axes) == 2, "a colour bar for the Sharpe ratios"
    assert "Sharpe" in fig.axes[1].get_ylabel()
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    for name in ("max_sharpe", "min_vol", "hrp", "strategy"):
        assert series_label(name) in legend
    assert "efficient frontier" in legend
    # The title says when and over how long the moments were estimated.
    assert ax.get_title() == "Efficient frontier on 2022-12-30, from the 252 trading days before"
    curve = next(line for line in ax.get_lines() if "frontier" in line.get_label())
    np.testing.assert_allclose(curve.get_xdata(), front.curve_vols)
    assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
    assert_png(plots.save(fig, tmp_path / "frontier.png"))


# --------------------------------------------------------------------------- save


def test_save_is_atomic_and_closes(returns: pl.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "sub" / "chart.png"
    fig = plots.drawdowns(rd.drawdowns(returns))

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    fig.savefig = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save(fig, target)
    assert list((tmp_path / "sub").iterdir()) == []

    fig = plots.drawdowns(rd.drawdowns(returns))
    plots.save(fig, target)
    assert [p.name for p in target.parent.iterdir()] == ["chart.png"]
    assert fig.axes == [], "the figure is released after saving"
