"""Charts of a backtest: one function per chart, plain data in, a Figure out.

Every function builds a :class:`matplotlib.figure.Figure` directly, without
``pyplot``: no global figure registry to leak into, no GUI backend to probe on
a headless container, and nothing changed for a caller (a notebook, say) that
uses ``pyplot`` itself. PNGs are rendered by the Agg canvas. :func:`save`
writes a figure whole or not at all.

Returns are daily **simple** returns as fractions; in a returns frame the
first column after ``date`` is the strategy (drawn thicker), the second the
benchmark, the rest baselines. Colours follow the column position, so a series
has the same colour in every chart.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from backtest.frontier import Frontier
from backtest.names import SECTIONS, TITLES, series_label
from shared.atomic import atomic_open

if TYPE_CHECKING:
    from backtest.report_data import RollingSharpe

__all__ = [
    "DPI",
    "class_weights",
    "cluster_stability",
    "dendrogram",
    "drawdowns",
    "equity_curves",
    "frontier",
    "monthly_heatmap",
    "risk_contribution",
    "rolling_risk",
    "rolling_sharpe",
    "save",
    "sweep_sharpes",
    "title_of",
]

FloatArray = npt.NDArray[np.float64]

#: Two device pixels per CSS pixel (96 per inch): sharp on high-density screens.
DPI = 192
#: Wide enough for a legend beside the axes, narrow enough that 10 pt text prints near 8 pt.
_WIDE = (9.0, 4.2)

_STRATEGY_COLOR = "#1f4e9a"
_BENCHMARK_COLOR = "#333333"
# Baselines get the tab10 hues that neither the strategy's blue nor the benchmark's grey uses.
_BASELINE_COLORS = (
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
_SELECTED_COLOR = "#c0392b"


# --------------------------------------------------------------------------- helpers


def _new_figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _style(index: int) -> dict[str, Any]:
    """Line style of the series at column ``index`` (0 = strategy, 1 = benchmark)."""
    if index == 0:
        return {"color": _STRATEGY_COLOR, "linewidth": 2.4, "zorder": 5}
    if index == 1:
        return {"color": _BENCHMARK_COLOR, "linewidth": 1.6, "zorder": 4}
    color = _BASELINE_COLORS[(index - 2) % len(_BASELINE_COLORS)]
    return {"color": color, "linewidth": 1.1, "alpha": 0.9, "zorder": 3}


def _columns(frame: pl.DataFrame) -> tuple[npt.NDArray[Any], dict[str, FloatArray]]:
    """Dates and each series of a :mod:`backtest.report_data` frame, as float arrays."""
    if "date" not in frame.columns:
        raise ValueError("a series frame needs a 'date' column")
    names = [c for c in frame.columns if c != "date"]
    cols = {n: frame[n].to_numpy().astype(np.float64, copy=False) for n in names}
    return frame["date"].to_numpy(), cols


def _date_axis(ax: Any) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.margins(x=0.01)


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    # Outside the axes a legend can never hide a curve, whatever the data do.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kwargs)


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Readable tick values on a log axis from ``lo`` to ``hi``.

    Matplotlib's log locator puts major ticks at powers of ten only, so a
    wealth curve between 0.8 and 3 would carry a single labelled tick. Take the
    coarsest mantissa set that yields at least four ticks in range.
    """
    mantissa_sets = (
        (1.0,),
        (1.0, 2.0, 5.0),
        (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
        (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
        tuple(1.0 + 0.1 * k for k in range(90)),
    )
    k_lo, k_hi = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    ticks: list[float] = []
    for mantissas in mantissa_sets:
        ticks = [
            m * 10.0**k for k in range(k_lo, k_hi + 1) for m in mantissas if lo <= m * 10.0**k <= hi
        ]
        if len(ticks) >= 4:
            break
    return ticks


def _fmt_multiple(v: float, _pos: object = None) -> str:
    return f"{v:.3g}×"


# --------------------------------------------------------------------------- returns charts


def regime_equity(growth: pl.DataFrame, regime: pl.DataFrame) -> Figure:
    """The strategy's and the benchmark's growth of 1, the days read as stressed shaded.

    Parameters
    ----------
    growth : polars.DataFrame
        :func:`backtest.report_data.growth`.
    regime : polars.DataFrame
        ``date``, ``stress`` (``BacktestResult.regime``), on the same dates.
    """
    dates, cols = _columns(growth.select("date", "strategy", "benchmark"))
    fig, ax = _new_figure(_WIDE)
    for i, (name, wealth) in enumerate(cols.items()):
        ax.plot(dates, wealth, label=series_label(name), **_style(i))
    stressed = regime["stress"].fill_nan(0.0).fill_null(0.0).to_numpy() >= 0.5
    edges = np.flatnonzero(np.diff(np.r_[0, stressed.astype(np.int8), 0]))
    for k, (a, b) in enumerate(zip(edges[::2], edges[1::2], strict=True)):
        end = dates[min(b, dates.size - 1)]
        ax.axvspan(dates[a], end, color="#d62728", alpha=0.15, linewidth=0,
                   label="stressed" if k == 0 else None)  # fmt: skip
    ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(SECTIONS["regime"])
    return fig


def equity_curves(growth: pl.DataFrame) -> Figure:
    """Growth of 1 invested in each series, on a log scale.

    Parameters
    ----------
    growth : polars.DataFrame
        :func:`backtest.report_data.growth`: ``date``, then each series'
        wealth, strategy first, then benchmark, then baselines; NaN before a
        series starts.

    Returns
    -------
    matplotlib.figure.Figure
        Equal vertical distances are equal percentage moves. The legend gives
        each final multiple.
    """
    dates, cols = _columns(growth)
    fig, ax = _new_figure(_WIDE)
    lo, hi = math.inf, -math.inf
    for i, (name, wealth) in enumerate(cols.items()):
        if np.isfinite(wealth).any():
            lo = min(lo, float(np.nanmin(wealth)))
            hi = max(hi, float(np.nanmax(wealth)))
            final = wealth[np.isfinite(wealth)][-1]
            label = f"{series_label(name)} ({final:.2f}×)"
        else:
            label = series_label(name)
        ax.plot(dates, wealth, label=label, **_style(i))
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":", zorder=1)
    if math.isfinite(lo) and hi > lo:
        ax.yaxis.set_major_locator(ticker.FixedLocator(_log_ticks(lo, hi)))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_fmt_multiple))
    ax.set_title(SECTIONS["equity"])
    ax.set_ylabel("Wealth (× initial, log scale)")
    ax.set_xlabel("Date")
    ax.grid(True, which="major", alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax, title="final multiple")
    return fig


def drawdowns(drawdown: pl.DataFrame) -> Figure:
    """Drawdown from the running peak of each series, the strategy's filled.

    Parameters
    ----------
    drawdown : polars.DataFrame
        :func:`backtest.report_data.drawdowns`, NaN before a series starts.

    Returns
    -------
    matplotlib.figure.Figure
        Drawdowns as percentages (<= 0); the legend gives each maximum drawdown.
    """
    dates, cols = _columns(drawdown)
    fig, ax = _new_figure(_WIDE)
    for i, (name, dd) in enumerate(cols.items()):
        started = np.isfinite(dd)
        if not started.any():
            ax.plot([], [], label=series_label(name), **_style(i))
            continue
        style = _style(i)
        ax.plot(dates, dd, label=f"{series_label(name)} (max {np.nanmin(dd):.1%})", **style)
        if i == 0:
            ax.fill_between(
                dates, dd, 0.0, where=started, color=style["color"], alpha=0.25, zorder=2
            )
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title(SECTIONS["drawdown"])
    ax.set_ylabel("Drawdown (%)")
    ax.set_xlabel("Date")
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax, title="max drawdown")
    return fig


def rolling_sharpe(rolling: RollingSharpe) -> Figure:
    """Rolling annualised Sharpe ratio over the risk-free rate of each series.

    Parameters
    ----------
    rolling : RollingSharpe
        :func:`backtest.report_data.rolling_sharpe`; the title says when its
        window was shortened to the sample.
    """
    dates, cols = _columns(rolling.frame)
    fig, ax = _new_figure(_WIDE)
    for i, (name, sr) in enumerate(cols.items()):
        ax.plot(dates, sr, label=series_label(name), **_style(i))
    w, window = rolling.days, rolling.window
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    days = f"{w}-day" if w == window else f"{w}-day (whole sample, shorter than {window})"
    ax.set_title(SECTIONS["rolling_sharpe"].format(days=days))
    ax.set_ylabel("Sharpe ratio (annualised, over the risk-free rate)")
    ax.set_xlabel("Date (end of window)")
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax)
    return fig


def rolling_risk(vol: pl.DataFrame, beta: pl.DataFrame) -> Figure:
    """Rolling annualised volatility of each series (top) and beta to the benchmark (bottom).

    Parameters
    ----------
    vol, beta : polars.DataFrame
        :func:`backtest.report_data.rolling_risk`; the benchmark, the second
        series, has no beta line (it is 1).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the date axis.
    """
    dates, vols = _columns(vol)
    betas = _columns(beta)[1]
    fig = Figure(figsize=(_WIDE[0], _WIDE[1] * 1.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_vol, ax_beta = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(vols):
        style = _style(i)
        ax_vol.plot(dates, vols[name], **style, label=series_label(name))
        if name in betas:
            ax_beta.plot(dates, betas[name], **style)
    ax_beta.axhline(1.0, color=_BENCHMARK_COLOR, linewidth=0.8, linestyle=":", zorder=1)
    ax_vol.set_title(SECTIONS["rolling"])
    ax_vol.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax_vol.set_ylabel("Volatility (annualised)")
    ax_beta.set_ylabel("Beta to the benchmark")
    ax_beta.set_xlabel("Date (end of window)")
    for ax in (ax_vol, ax_beta):
        ax.grid(True, alpha=0.3)
    _date_axis(ax_beta)
    _legend_outside(ax_vol)
    return fig


def monthly_heatmap(table: pl.DataFrame) -> Figure:
    """Monthly returns as a colour grid, a row per year, with the year's total.

    Parameters
    ----------
    table : polars.DataFrame
        :func:`backtest.periods.monthly_returns`: ``year``, ``1`` .. ``12``, ``total``.

    Returns
    -------
    matplotlib.figure.Figure
        Cells coloured red (loss) to green (gain) on a scale symmetric about
        0, each printed in percent; empty months blank.
    """
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm

    cols = [str(m) for m in range(1, 13)]
    months = table.select(cols).to_numpy().astype(np.float64)
    totals = table["total"].to_numpy().astype(np.float64)
    years = table["year"].to_list()
    fig, ax = _new_figure((_WIDE[0], 0.36 * len(years) + 1.4))
    bound = float(np.nanmax(np.abs(months))) if np.isfinite(months).any() else 0.01
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)
    grid = np.column_stack([months, np.full(len(years), np.nan)])
    ax.imshow(grid, cmap=colormaps["RdYlGn"], norm=norm, aspect="auto")
    for y in range(len(years)):
        for m in range(13):
            v = months[y, m] if m < 12 else totals[y]
            if np.isfinite(v):
                weight = "bold" if m == 12 else "normal"
                ax.text(m, y, f"{v:.1%}", ha="center", va="center", fontsize=8, weight=weight)
    labels = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec", "Year"]  # fmt: skip
    ax.set_xticks(range(13), labels)
    ax.set_yticks(range(len(years)), [str(y) for y in years])
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(SECTIONS["monthly"])
    return fig


# --------------------------------------------------------------------------- weights


def class_weights(wide: pl.DataFrame, asset_class: Mapping[str, str]) -> Figure:
    """Target weights summed by asset class at each rebalance, held until the next one.

    Parameters
    ----------
    wide : polars.DataFrame
        :func:`backtest.report_data.class_weights`: ``date``, one column a class.
    asset_class : mapping of str to str
        Every ticker's class, so each class keeps its colour across charts.

    Returns
    -------
    matplotlib.figure.Figure
        A stepped stacked area, one layer per class, the class with the highest
        average weight at the bottom; cash (weights under 1) is left blank.
    """
    dates = wide["date"].to_numpy()
    names = [c for c in wide.columns if c != "date"]
    mat = wide.select(names).to_numpy().astype(np.float64)
    order = sorted(range(len(names)), key=lambda j: (-mat[:, j].mean(), names[j]))
    x = np.append(dates, dates[-1] + _step(dates))
    ys = [np.append(mat[:, j], mat[-1, j]) for j in order]
    colors = _class_colors([*asset_class.values(), *names])
    fig, ax = _new_figure(_WIDE)
    ax.stackplot(
        x, *ys, labels=[names[j] for j in order], colors=[colors[names[j]] for j in order],
        step="post", linewidth=0.3, edgecolor="white",
    )  # fmt: skip
    ax.set_ylim(0.0, 1.0)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title(SECTIONS["asset_classes"])
    ax.set_ylabel("Weight (%)")
    ax.set_xlabel("Rebalance date")
    ax.grid(True, axis="y", alpha=0.3)
    _date_axis(ax)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, title="asset class")  # fmt: skip
    return fig


def _step(dates: npt.NDArray[Any]) -> Any:
    """How long the last rebalance's weights are drawn: the median gap, or a month."""
    if dates.size > 1:
        return np.median(np.diff(dates))
    # A month in the dates' own unit (datetime64 + timedelta64, not datetime64 + datetime64).
    return np.timedelta64(30, "D").astype(f"timedelta64[{np.datetime_data(dates.dtype)[0]}]")


def _class_colors(classes: Sequence[str]) -> dict[str, Any]:
    """One colour per asset class, by sorted name, so a class looks the same in every chart."""
    ordered = sorted(set(classes))
    return dict(zip(ordered, _palette(len(ordered)), strict=True))


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](k) for k in range(n)]
    cmap = colormaps["tab20"]
    return [cmap(k % 20) for k in range(n)]


# --------------------------------------------------------------------------- clustering


#: Most leaves a dendrogram draws; larger trees are cut to their top branches.
MAX_LEAVES = 400


def _tree_geometry(z: np.ndarray, names: list[str]) -> dict[str, Any]:
    """SciPy's dendrogram coordinates; past MAX_LEAVES, of the top of the tree only.

    Leaves "(k)" then hold k assets: a row per asset would make an image taller
    than any screen or renderer. ``no_plot``: SciPy's own plotting would
    import pyplot, and the geometry is all that is needed.
    """
    from scipy.cluster import hierarchy

    cut = {"truncate_mode": "lastp", "p": MAX_LEAVES} if len(names) > MAX_LEAVES else {}
    tree: dict[str, Any] = hierarchy.dendrogram(
        z, labels=names, no_plot=True, above_threshold_color="0.55", **cut
    )
    return tree


def dendrogram(
    linkage: npt.ArrayLike,
    tickers: Sequence[str],
    selected: Sequence[str] = (),
    asset_class: Mapping[str, str] | None = None,
) -> Figure:
    """Hierarchical clustering tree of the assets, selected ones highlighted.

    Parameters
    ----------
    linkage : array_like, shape (n - 1, 4)
        SciPy linkage matrix over ``n`` assets.
    tickers : sequence of str
        Leaf labels, in the order of the observations clustered.
    selected : sequence of str
        Tickers picked by the strategy: bold labels with a dot at the leaf.
    asset_class : mapping of str to str, optional
        Ticker -> asset class; colours the labels, with a legend.

    Returns
    -------
    matplotlib.figure.Figure
        Up to 60 leaves the tree hangs down with vertical labels; beyond, it
        lies on its side with one row per leaf and a height proportional to
        ``n``, so 300+ labels stay legible (at the cost of a tall image).
    """
    z = np.asarray(linkage, dtype=np.float64)
    names = [str(t) for t in tickers]
    n = len(names)
    if n < 2 or z.shape != (n - 1, 4):
        raise ValueError(f"linkage of shape {z.shape} does not fit {n} tickers")
    chosen = set(selected) & set(names)
    asset_class = asset_class or None  # a universe without classes colours nothing
    tree = _tree_geometry(z, names)
    leaves: list[str] = tree["ivl"]
    shown = n
    n = len(leaves)

    horizontal = n > 60
    if horizontal:
        font = 6.5 if n > 150 else 8.0
        # ~0.13 in per row fits a 6.5 pt label with air between rows.
        size = (11.0, max(6.0, 0.13 * n + 1.2))
    else:
        font = 9.0
        size = (max(8.0, 0.22 * n + 2.0), 6.0)
    fig, ax = _new_figure(size)

    _draw_links(ax, tree, horizontal, recolor=asset_class is not None)
    # SciPy places leaf k at 5 + 10 k.
    pos = 5.0 + 10.0 * np.arange(n)
    class_colors = _leaf_class_colors(leaves, asset_class)
    tick_labels = _leaf_axis(ax, pos, leaves, horizontal, font)
    _mark_leaves(tick_labels, leaves, chosen, asset_class, class_colors)
    sel_pos = [p for p, t in zip(pos, leaves, strict=True) if t in chosen]
    if sel_pos:
        zeros = np.zeros(len(sel_pos))
        xy = (zeros, sel_pos) if horizontal else (sel_pos, zeros)
        ax.scatter(*xy, s=18, color=_SELECTED_COLOR, zorder=5, clip_on=False)
    _dendrogram_legend(ax, len(chosen), class_colors)
    top = f", top {n} branches" if n < shown else ""
    detail = f"{shown} assets, {len(chosen)} selected{top}"
    ax.set_title(SECTIONS["dendrogram"].format(detail=detail))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _draw_links(ax: Any, tree: dict[str, Any], horizontal: bool, recolor: bool) -> None:
    """The tree's links; grey when colour means asset class (on the labels only)."""
    for xs, ys, color in zip(tree["icoord"], tree["dcoord"], tree["color_list"], strict=True):
        shade = "0.35" if recolor else color  # coloured links would clash with the classes
        if horizontal:
            ax.plot(ys, xs, color=shade, linewidth=0.9)
        else:
            ax.plot(xs, ys, color=shade, linewidth=0.9)


def _leaf_axis(
    ax: Any, pos: np.ndarray, leaves: list[str], horizontal: bool, font: float
) -> list[Any]:
    """The leaves' labels on their axis, the distance on the other; the label objects."""
    n = len(leaves)
    if horizontal:
        ax.set_yticks(pos, leaves, fontsize=font)
        ax.set_ylim(0.0, 10.0 * n)
        ax.set_xlim(left=0.0)
        ax.set_xlabel("Linkage distance")
        return list(ax.get_yticklabels())
    ax.set_xticks(pos, leaves, fontsize=font, rotation=90)
    ax.set_xlim(0.0, 10.0 * n)
    ax.set_ylim(bottom=0.0)
    ax.set_ylabel("Linkage distance")
    return list(ax.get_xticklabels())


def _leaf_class_colors(
    leaves: Sequence[str], asset_class: Mapping[str, str] | None
) -> dict[str, Any]:
    """The colours of the classes among ``leaves``, as every chart gives them."""
    if not asset_class:
        return {}
    classes = sorted({asset_class.get(t, "unknown") for t in leaves})
    every = _class_colors([*asset_class.values(), *classes])
    return {c: every[c] for c in classes}


def _mark_leaves(
    tick_labels: Sequence[Any],
    leaves: Sequence[str],
    chosen: set[str],
    asset_class: Mapping[str, str] | None,
    class_colors: Mapping[str, Any],
) -> None:
    """Colour leaf labels by asset class and make the selected ones stand out."""
    for label, ticker_name in zip(tick_labels, leaves, strict=True):
        if asset_class is not None:
            label.set_color(class_colors[asset_class.get(ticker_name, "unknown")])
        if ticker_name in chosen:
            label.set_fontweight("bold")
            if asset_class is None:
                label.set_color(_SELECTED_COLOR)
            else:
                # Colour already says the class; a light box says "selected".
                label.set_bbox({"boxstyle": "round,pad=0.15", "fc": "#ffe08a", "ec": "none"})


def _dendrogram_legend(ax: Any, n_chosen: int, class_colors: Mapping[str, Any]) -> None:
    handles: list[Any] = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=_SELECTED_COLOR,
            label=f"selected ({n_chosen})",
        )
    ]
    handles += [Patch(color=color, label=c) for c, color in class_colors.items()]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        title="asset class" if class_colors else None,
    )


def risk_contribution(
    by_cluster: Mapping[str, float],
    by_class: Mapping[str, float],
    classes: Sequence[str] = (),
) -> Figure:
    """Shares of the ex-ante variance by cluster (left) and by asset class (right).

    Parameters
    ----------
    by_cluster, by_class : mapping of str to float
        :func:`backtest.risk.group_contributions`; the shares of each sum to 1.
    classes : sequence of str
        Every asset class of the universe, so each keeps its colour from the
        other charts.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, largest at the top, each labelled in percent.
    """
    fig = Figure(figsize=_WIDE, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    colors = _class_colors([*classes, *by_class])
    panels = (("Cluster", by_cluster, None), ("Asset class", by_class, colors))
    for ax, (name, shares, palette) in zip(axes, panels, strict=True):
        labels = list(shares)[::-1]
        values = [shares[k] for k in labels]
        bar_colors = [palette[k] if palette else _STRATEGY_COLOR for k in labels]
        ax.barh(labels, values, color=bar_colors, height=0.7)
        ax.set_ylim(-0.6, max(len(labels), 6) - 0.4)  # a lone bar stays a bar, not a wall
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.0%}", va="center", fontsize=8.5)
        ax.set_xlabel("Share of portfolio variance")
        ax.set_ylabel(name)
        ax.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
        ax.set_xlim(min(0.0, min(values, default=0.0)), max(1.0, max(values, default=0.0)) * 1.1)
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(SECTIONS["risk"])
    return fig


def cluster_stability(stability: pl.DataFrame) -> Figure:
    """Share of each cluster kept together, and the adjusted Rand index, rebalance to rebalance.

    Parameters
    ----------
    stability : polars.DataFrame
        :func:`backtest.stability.cluster_stability`: ``date``, ``k``, ``kept``, ``ari``.

    Returns
    -------
    matplotlib.figure.Figure
        Both measures on a 0-1 scale against the later rebalance's date; the
        number of clusters as grey steps on a second axis.
    """
    if stability.height == 0:
        raise ValueError("stability needs two rebalances or more")
    dates = stability["date"].to_numpy()
    fig, ax = _new_figure(_WIDE)
    ax.plot(dates, stability["kept"].to_numpy(), marker="o", markersize=3,
            label="membership kept", **_style(0))  # fmt: skip
    ax.plot(dates, stability["ari"].to_numpy(), color=_BASELINE_COLORS[1], linewidth=1.2,
            label="adjusted Rand index")  # fmt: skip
    ax.set_ylim(min(0.0, float(np.nanmin(stability["ari"].to_numpy()))), 1.02)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("Agreement with the previous rebalance")
    ax.set_xlabel("Rebalance date")
    k_ax = ax.twinx()
    k_ax.step(dates, stability["k"].to_numpy(), where="post", color="0.6", linewidth=1.0,
              label="clusters (right axis)")  # fmt: skip
    k_ax.set_ylabel("Clusters")
    k_ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title(SECTIONS["stability"])
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    lines = ax.get_legend_handles_labels()
    k_lines = k_ax.get_legend_handles_labels()
    ax.legend(lines[0] + k_lines[0], lines[1] + k_lines[1], loc="upper left",
              bbox_to_anchor=(1.08, 1.0), frameon=False)  # fmt: skip
    return fig


# --------------------------------------------------------------------------- frontier

_MARKER_SHAPES = ("*", "D", "P", "X", "s", "^", "v", "h", "p", "<", ">")


def frontier(front: Frontier, asof: Any, days: int) -> Figure:
    """Monte Carlo portfolios, the efficient frontier and the marked portfolios.

    Parameters
    ----------
    front : backtest.frontier.Frontier
        Annualised random portfolios, curve and markers.
    asof : date
        The rebalance the moments were estimated at; the title says so.
    days : int
        Trading days the moments were estimated over (the lookback).

    Returns
    -------
    matplotlib.figure.Figure
        Volatility against expected return, random portfolios coloured by
        Sharpe ratio (colour bar), the long-only frontier as a line, and each
        marker as a distinct symbol named in the legend with its coordinates.
        The strategy's marker is the largest and drawn first, so a portfolio
        at the same spot (HRP, often) shows on top of it.
    """
    fig, ax = _new_figure((8.5, 6.0))
    ok = np.isfinite(front.vols) & np.isfinite(front.returns) & np.isfinite(front.sharpes)
    # Draw the best Sharpe ratios last so they are not buried under the crowd.
    idx = np.flatnonzero(ok)[np.argsort(front.sharpes[ok], kind="stable")]
    sc = ax.scatter(
        front.vols[idx],
        front.returns[idx],
        c=front.sharpes[idx],
        cmap="viridis",
        s=5,
        alpha=0.6,
        linewidths=0,
        rasterized=True,
        label=f"random portfolios ({ok.sum():,}, Dirichlet)",
    )
    fig.colorbar(sc, ax=ax, label="Sharpe ratio (annualised)", pad=0.01)
    if front.curve_vols.size:
        ax.plot(
            front.curve_vols,
            front.curve_returns,
            color="black",
            linewidth=2.0,
            label="efficient frontier (long-only)",
            zorder=4,
        )
    for k, (name, (vol, ret)) in enumerate(front.markers.items()):
        is_strategy = name == "strategy"
        color = _STRATEGY_COLOR if is_strategy else _BASELINE_COLORS[k % len(_BASELINE_COLORS)]
        ax.scatter(
            [vol],
            [ret],
            marker="o" if is_strategy else _MARKER_SHAPES[k % len(_MARKER_SHAPES)],
            s=420 if is_strategy else 160,
            facecolors="none" if is_strategy else color,
            edgecolors=color if is_strategy else "white",
            linewidths=2.5 if is_strategy else 1.0,
            zorder=5 if is_strategy else 6,
            label=f"{series_label(name)} (σ {vol:.1%}, μ {ret:.1%})",
        )
    # decimals=None: as many as the tick spacing needs, so 7.5 % is not shown as "8%".
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=None))
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=None))
    ax.set_xlabel("Volatility (annualised, %)")
    ax.set_ylabel("Expected return (annualised, %)")
    ax.set_title(SECTIONS["frontier"].format(asof=asof, days=days))
    ax.grid(True, alpha=0.3)
    # Above and left of the frontier no long-only portfolio exists: that corner is empty.
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.9, markerscale=0.8)
    return fig


# --------------------------------------------------------------------------- research grids


def sweep_sharpes(
    points: Mapping[str, Sequence[float]],
    benchmark: float,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """The strategy's Sharpe ratio per variant of a sweep, one point per seed.

    Parameters
    ----------
    points : mapping of str to sequence of float
        Variant -> the Sharpe ratio of each of its runs (seeds, costs).
    benchmark : float
        The benchmark's Sharpe ratio over the same days, drawn as a line.
    intervals : mapping of str to (float, float), optional
        Variant -> its bootstrap interval (mean bounds over its runs), drawn as
        a whisker through the points.

    Returns
    -------
    matplotlib.figure.Figure
        Points per variant with their mean as a bar and the interval as a
        whisker; the benchmark dotted.
    """
    names = list(points)
    fig, ax = _new_figure((max(_WIDE[0] * 0.6, 0.55 * len(names) + 2.5), _WIDE[1]))
    for i, name in enumerate(names):
        values = np.asarray(points[name], dtype=np.float64)
        lo, hi = (intervals or {}).get(name, (np.nan, np.nan))
        if np.isfinite(lo) and np.isfinite(hi):
            ax.vlines(i, lo, hi, color=_STRATEGY_COLOR, linewidth=1.0, alpha=0.55, zorder=3)
            ax.hlines((lo, hi), i - 0.1, i + 0.1, color=_STRATEGY_COLOR, linewidth=1.0,
                      alpha=0.55, zorder=3)  # fmt: skip
        ax.scatter(np.full(values.size, i), values, color=_STRATEGY_COLOR, s=28, zorder=4)
        if np.isfinite(values).any():
            ax.hlines(np.nanmean(values), i - 0.3, i + 0.3, color=_STRATEGY_COLOR, linewidth=2.4)
    ax.axhline(benchmark, color=_BENCHMARK_COLOR, linestyle=":", linewidth=1.2,
               label=f"{series_label('benchmark')} ({benchmark:.2f})")  # fmt: skip
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 6 else 0, ha="right"
                  if len(names) > 6 else "center")  # fmt: skip
    ax.set_ylabel("Sharpe ratio (annualised, over the risk-free rate)")
    ax.set_title(TITLES["sweep"])
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", frameon=False)
    return fig


# --------------------------------------------------------------------------- output


def title_of(fig: Figure) -> str:
    """The chart's own title: the report's heading for it, so the two never disagree."""
    suptitle = fig.get_suptitle()
    if suptitle:
        return str(suptitle)
    return str(fig.axes[0].get_title()) if fig.axes else ""


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` dots per inch, whole or not at all.

    The image goes to a temporary file in the target folder, then
    :func:`os.replace` renames it, so a reader never sees half a PNG. The
    figure is closed afterwards (released from ``pyplot`` if it was made there).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=DPI)
    finally:
        _close(fig)
    return Path(path)


def _close(fig: Figure) -> None:
    # Figures made here are not pyplot's; only close through pyplot if the caller uses it,
    # and never import it just for this.
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
    fig.clear()
