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
from typing import Any

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
from shared.atomic import atomic_open
from shared.metrics import TRADING_DAYS, drawdown_series, sharpe_ratio

__all__ = [
    "DPI",
    "dendrogram",
    "drawdowns",
    "equity_curves",
    "frontier",
    "rolling_sharpe",
    "save",
    "title_of",
    "weights_through_time",
]

FloatArray = npt.NDArray[np.float64]

DPI = 110
_WIDE = (11.0, 5.5)

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


def _series(returns: pl.DataFrame) -> tuple[npt.NDArray[Any], dict[str, FloatArray]]:
    """Dates and each series as float arrays with NaN where a return is missing."""
    if "date" not in returns.columns:
        raise ValueError("returns needs a 'date' column")
    names = [c for c in returns.columns if c != "date"]
    if not names or returns.height == 0:
        raise ValueError("returns needs at least one series and one row")
    df = returns.sort("date")
    dates = df["date"].to_numpy()
    cols = {
        n: df[n].cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64, copy=False)
        for n in names
    }
    return dates, cols


def _observed(r: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Returns with gaps read as flat days, and a mask hiding the days before the first one.

    A baseline can start later than the strategy; drawing it flat at 1 before
    then would suggest it existed and earned nothing.
    """
    finite = np.isfinite(r)
    started = np.cumsum(finite) > 0
    return np.where(finite, r, 0.0), started


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


def equity_curves(returns: pl.DataFrame) -> Figure:
    """Growth of 1 invested in each series, on a log scale.

    Parameters
    ----------
    returns : polars.DataFrame
        ``date`` (``pl.Date``) then one column of daily simple returns per
        series: strategy first, then benchmark, then baselines. Missing
        returns count as flat days once a series has started.

    Returns
    -------
    matplotlib.figure.Figure
        Wealth :math:`W_t = \\prod_{s \\le t}(1 + r_s)` per series; equal
        vertical distances are equal percentage moves. The legend gives each
        final multiple.
    """
    dates, cols = _series(returns)
    fig, ax = _new_figure(_WIDE)
    lo, hi = math.inf, -math.inf
    for i, (name, r) in enumerate(cols.items()):
        filled, started = _observed(r)
        wealth = np.cumprod(1.0 + filled)
        wealth = np.where(started & (wealth > 0.0), wealth, np.nan)
        if np.isfinite(wealth).any():
            lo = min(lo, float(np.nanmin(wealth)))
            hi = max(hi, float(np.nanmax(wealth)))
            final = wealth[np.isfinite(wealth)][-1]
            label = f"{name} ({final:.2f}×)"
        else:
            label = name
        ax.plot(dates, wealth, label=label, **_style(i))
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":", zorder=1)
    if math.isfinite(lo) and hi > lo:
        ax.yaxis.set_major_locator(ticker.FixedLocator(_log_ticks(lo, hi)))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_fmt_multiple))
    ax.set_title("Growth of 1 invested (log scale)")
    ax.set_ylabel("Wealth (× initial, log scale)")
    ax.set_xlabel("Date")
    ax.grid(True, which="major", alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax, title="final multiple")
    return fig


def drawdowns(returns: pl.DataFrame) -> Figure:
    """Drawdown from the running peak of each series, the strategy's filled.

    Parameters
    ----------
    returns : polars.DataFrame
        As in :func:`equity_curves`.

    Returns
    -------
    matplotlib.figure.Figure
        Drawdowns as percentages (<= 0) from :func:`shared.metrics.drawdown_series`;
        the legend gives each maximum drawdown.
    """
    dates, cols = _series(returns)
    fig, ax = _new_figure(_WIDE)
    for i, (name, r) in enumerate(cols.items()):
        filled, started = _observed(r)
        if not started.any():
            ax.plot([], [], label=name, **_style(i))
            continue
        # Measured from the series' own start, so a late starter begins at 0.
        dd = np.full(r.size, np.nan)
        dd[started] = drawdown_series(filled[started])
        style = _style(i)
        ax.plot(dates, dd, label=f"{name} (max {np.nanmin(dd):.1%})", **style)
        if i == 0:
            ax.fill_between(
                dates, dd, 0.0, where=started, color=style["color"], alpha=0.25, zorder=2
            )
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title("Drawdown from running peak")
    ax.set_ylabel("Drawdown (%)")
    ax.set_xlabel("Date")
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax, title="max drawdown")
    return fig


def rolling_sharpe(
    returns: pl.DataFrame,
    window: int = int(TRADING_DAYS),
    periods_per_year: float = TRADING_DAYS,
    rf: npt.ArrayLike = 0.0,
) -> Figure:
    """Rolling annualised Sharpe ratio over the risk-free rate of each series.

    Parameters
    ----------
    returns : polars.DataFrame
        As in :func:`equity_curves`.
    window : int
        Trading days in each window; shortened to the sample when the sample
        is shorter, and the title says so.
    periods_per_year : float
        Annualisation factor, the calendar's trading days per year.
    rf : float or array_like
        Risk-free return per day (one per row of ``returns``), as in the
        metrics table.

    Returns
    -------
    matplotlib.figure.Figure
        :func:`shared.metrics.sharpe_ratio` of excess returns over each
        trailing window (sample standard deviation); undefined until a window
        is full.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window}")
    dates, cols = _series(returns)
    n = dates.size
    w = min(window, n)
    fig, ax = _new_figure(_WIDE)
    rf_days = np.broadcast_to(np.asarray(rf, dtype=np.float64), (n,))
    for i, (name, r) in enumerate(cols.items()):
        s = pl.Series(name, r - rf_days, dtype=pl.Float64).fill_nan(None)
        mean = s.rolling_mean(w, min_samples=w).to_numpy()
        std = s.rolling_std(w, min_samples=w).to_numpy()
        ax.plot(dates, sharpe_ratio(mean, std, periods_per_year), label=name, **_style(i))
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    days = f"{w}-day" if w == window else f"{w}-day (whole sample, shorter than {window})"
    ax.set_title(f"Rolling {days} Sharpe ratio")
    ax.set_ylabel("Sharpe ratio (annualised, over the risk-free rate)")
    ax.set_xlabel("Date (end of window)")
    ax.grid(True, alpha=0.3)
    _date_axis(ax)
    _legend_outside(ax)
    return fig


# --------------------------------------------------------------------------- weights


def weights_through_time(weights: pl.DataFrame, top: int = 12) -> Figure:
    """Stacked target weights at each rebalance, held until the next one.

    Parameters
    ----------
    weights : polars.DataFrame
        Long format: ``date`` (rebalance date), ``ticker``, ``weight``. A
        ticker absent at a rebalance has weight 0 there.
    top : int
        Tickers with the highest average weight over all rebalances are named;
        the others are summed into ``other``.

    Returns
    -------
    matplotlib.figure.Figure
        A stepped stacked area; the largest holdings sit at the bottom. The
        last rebalance is drawn for the median gap between rebalances.
    """
    missing = {"date", "ticker", "weight"} - set(weights.columns)
    if missing:
        raise ValueError(f"weights lacks column(s) {sorted(missing)}")
    if weights.height == 0:
        raise ValueError("weights is empty")
    if top < 1:
        raise ValueError(f"top must be positive, got {top}")
    wide = (
        weights.group_by("date", "ticker")
        .agg(pl.col("weight").cast(pl.Float64).sum())
        .pivot(on="ticker", index="date", values="weight")
        .sort("date")
        .fill_null(0.0)
    )
    dates = wide["date"].to_numpy()
    tickers = [c for c in wide.columns if c != "date"]
    mat = wide.select(tickers).to_numpy().astype(np.float64)
    avg = mat.mean(axis=0)
    # Stable sort on negated averages: ties keep a reproducible (ticker) order.
    order = sorted(range(len(tickers)), key=lambda j: (-avg[j], tickers[j]))
    named = order[:top]
    layers = [mat[:, j] for j in named]
    labels = [tickers[j] for j in named]
    rest = order[top:]
    if rest:
        layers.append(mat[:, rest].sum(axis=1))
        labels.append(f"other ({len(rest)})")

    # One step past the last rebalance, so its weights get a visible width.
    if dates.size > 1:
        gap = np.median(np.diff(dates))
    else:
        # A month, in the dates' own unit (a datetime64 plus a timedelta64, not
        # a datetime64 plus a datetime64).
        gap = np.timedelta64(30, "D").astype(f"timedelta64[{np.datetime_data(dates.dtype)[0]}]")
    x = np.append(dates, dates[-1] + gap)
    ys = [np.append(layer, layer[-1]) for layer in layers]

    cmap = _palette(len(named))
    colors = [cmap[k] for k in range(len(named))] + (["#b0b0b0"] if rest else [])
    fig, ax = _new_figure(_WIDE)
    ax.stackplot(
        x, *ys, labels=labels, colors=colors, step="post", linewidth=0.3, edgecolor="white"
    )
    ax.set_ylim(0.0, max(1.0, float(np.max(np.sum(ys, axis=0)))))
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title(f"Portfolio weights at each rebalance ({dates.size} rebalances)")
    ax.set_ylabel("Weight (%)")
    ax.set_xlabel("Rebalance date")
    ax.grid(True, axis="y", alpha=0.3)
    _date_axis(ax)
    # The legend reads top-down like the stack does, so reverse the bottom-up order.
    handles, names = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1],
        names[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title=f"top {min(top, len(tickers))} by avg weight",
    )
    return fig


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

    for xs, ys, color in zip(tree["icoord"], tree["dcoord"], tree["color_list"], strict=True):
        if asset_class is not None:
            # Colour then means asset class, on the labels only; coloured links would clash.
            color = "0.35"
        if horizontal:
            ax.plot(ys, xs, color=color, linewidth=0.9)
        else:
            ax.plot(xs, ys, color=color, linewidth=0.9)

    # SciPy places leaf k at 5 + 10 k.
    pos = 5.0 + 10.0 * np.arange(n)
    classes = sorted({asset_class.get(t, "unknown") for t in leaves}) if asset_class else []
    class_colors = dict(zip(classes, _palette(len(classes)), strict=True))
    if horizontal:
        ax.set_yticks(pos, leaves, fontsize=font)
        ax.set_ylim(0.0, 10.0 * n)
        ax.set_xlim(left=0.0)
        ax.set_xlabel("Linkage distance")
        tick_labels = ax.get_yticklabels()
    else:
        ax.set_xticks(pos, leaves, fontsize=font, rotation=90)
        ax.set_xlim(0.0, 10.0 * n)
        ax.set_ylim(bottom=0.0)
        ax.set_ylabel("Linkage distance")
        tick_labels = ax.get_xticklabels()

    _mark_leaves(tick_labels, leaves, chosen, asset_class, class_colors)
    sel_pos = [p for p, t in zip(pos, leaves, strict=True) if t in chosen]
    if sel_pos:
        zeros = np.zeros(len(sel_pos))
        xy = (zeros, sel_pos) if horizontal else (sel_pos, zeros)
        ax.scatter(*xy, s=18, color=_SELECTED_COLOR, zorder=5, clip_on=False)
    _dendrogram_legend(ax, len(chosen), class_colors)
    top = f", top {n} branches" if n < shown else ""
    ax.set_title(f"Asset clustering: {shown} assets, {len(chosen)} selected{top}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


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


# --------------------------------------------------------------------------- frontier

_MARKER_SHAPES = ("*", "D", "P", "X", "s", "^", "v", "h", "p", "<", ">")


def frontier(front: Frontier) -> Figure:
    """Monte Carlo portfolios, the efficient frontier and the marked portfolios.

    Parameters
    ----------
    front : backtest.frontier.Frontier
        Annualised random portfolios, curve and markers.

    Returns
    -------
    matplotlib.figure.Figure
        Volatility against expected return, random portfolios coloured by
        Sharpe ratio (colour bar), the long-only frontier as a line, and each
        marker as a distinct symbol named in the legend with its coordinates.
    """
    fig, ax = _new_figure((9.5, 6.5))
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
        label=f"random portfolios ({ok.sum():,})",
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
            marker=_MARKER_SHAPES[k % len(_MARKER_SHAPES)],
            s=260 if is_strategy else 160,
            color=color,
            edgecolors="white",
            linewidths=1.0,
            zorder=6,
            label=f"{name.replace('_', ' ')} (σ {vol:.1%}, μ {ret:.1%})",
        )
    # decimals=None: as many as the tick spacing needs, so 7.5 % is not shown as "8%".
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=None))
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=None))
    ax.set_xlabel("Volatility (annualised, %)")
    ax.set_ylabel("Expected return (annualised, %)")
    ax.set_title("Efficient frontier: Monte Carlo portfolios (Dirichlet) and optimum")
    ax.grid(True, alpha=0.3)
    # Above and left of the frontier no long-only portfolio exists: that corner is empty.
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.9, markerscale=0.8)
    return fig


# --------------------------------------------------------------------------- output


def title_of(fig: Figure) -> str:
    """The chart's own title: the report's heading for it, so the two never disagree."""
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
