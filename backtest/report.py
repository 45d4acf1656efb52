"""The backtest report: one self-contained HTML page and a Markdown twin.

``report.html`` embeds every chart as a base64 data URI and styles itself
inline, so it can be mailed or archived as a single file and opened offline.
``report.md`` carries the same metrics table with relative links to the PNGs,
ready to paste into a README. Both are rendered in memory first and written
through a temporary file and a rename: a failed run leaves no half page.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from shared import __version__
from shared.atomic import atomic_write_text

__all__ = ["METRIC_ROWS", "format_metric", "metrics_markdown", "write_report"]

Kind = Literal["pct", "ratio"]

# Order, label and format of each known metric (keys of shared.metrics.summary).
METRIC_ROWS: tuple[tuple[str, str, Kind], ...] = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("ann_return", "Annualised mean return", "pct"),
    ("ann_vol", "Annualised volatility", "pct"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("sortino", "Sortino ratio", "ratio"),
    ("calmar", "Calmar ratio", "ratio"),
    ("max_drawdown", "Maximum drawdown", "pct"),
    ("var_95", "1-day VaR 95% (historical)", "pct"),
    ("var_95_gaussian", "1-day VaR 95% (Gaussian)", "pct"),
    ("var_95_cf", "1-day VaR 95% (Cornish-Fisher)", "pct"),
    ("cvar_95", "1-day CVaR 95% (historical)", "pct"),
    ("beta", "Beta to benchmark", "ratio"),
    ("alpha", "Alpha (annualised)", "pct"),
    ("tracking_error", "Tracking error (annualised)", "pct"),
    ("information_ratio", "Information ratio", "ratio"),
    ("turnover", "Turnover (annual, one-way)", "pct"),
    ("cost_drag", "Cost drag (annual)", "pct"),
)
_KNOWN = {key: (label, kind) for key, label, kind in METRIC_ROWS}
_NA = "n/a"

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1250px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #e4e4e4; }
th { background: #f4f6f8; text-align: left; }
table.metrics td.num, table.metrics th.series { text-align: right;
       font-variant-numeric: tabular-nums; }
table.metrics tr:hover td { background: #fafbfc; }
table.metrics td.num.first, table.metrics th.series.first { background: #eef3fb;
       font-weight: 600; }
table.meta th { width: 14em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.footer { margin-top: 3em; color: #888; font-size: 0.85em; }
""".strip()


# --------------------------------------------------------------------------- formatting


def format_metric(key: str, value: Any) -> str:
    """Render one metric value for a table.

    Percent-type metrics (returns, volatility, drawdown, VaR, CVaR, alpha,
    tracking error, turnover, cost drag) get two decimals and a ``%`` sign
    (``0.1234`` -> ``12.34%``); ratios two decimals; an unknown key four
    significant digits. ``None``, NaN and infinities read ``n/a``.
    """
    if value is None or isinstance(value, bool):
        return _NA if value is None else str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return _NA
    v += 0.0  # -0.0 -> 0.0, so a flat series does not print "-0.00%".
    kind = _KNOWN.get(key, (key, None))[1]
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "ratio":
        return f"{v:.2f}"
    return f"{v:.4g}"


def _label(key: str) -> str:
    if key in _KNOWN:
        return _KNOWN[key][0]
    return key.replace("_", " ").capitalize()


def _rows(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Metric keys to show: known ones in canonical order, then any others as first seen."""
    present: dict[str, None] = {}
    for per_series in metrics.values():
        present.update(dict.fromkeys(per_series))
    known = [key for key, _, _ in METRIC_ROWS if key in present]
    return known + [key for key in present if key not in _KNOWN]


def _format_meta(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return _NA if not math.isfinite(value) else f"{value:g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_format_meta(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(_format_meta(v) for v in items)
    if value is None:
        return _NA
    return str(value)


def _title_case(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _md_cell(text: str) -> str:
    # A pipe would end the cell early; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- markdown


def metrics_markdown(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """The metrics as a GitHub-flavoured Markdown table.

    Parameters
    ----------
    metrics : mapping
        Series name -> metric key -> value, e.g. the content of
        ``metrics.json``; columns follow the mapping's order (strategy,
        benchmark, baselines).

    Returns
    -------
    str
        Header ``| Metric | <series> ... |``, right-aligned number columns, one
        row per metric any series has, in the order of :data:`METRIC_ROWS`;
        ends with a newline.
    """
    series = list(metrics)
    lines = [
        "| " + " | ".join(["Metric", *(_md_cell(s) for s in series)]) + " |",
        "| " + " | ".join([":---", *("---:" for _ in series)]) + " |",
    ]
    for key in _rows(metrics):
        cells = [format_metric(key, metrics[s].get(key)) for s in series]
        lines.append("| " + " | ".join([_md_cell(_label(key)), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _markdown(
    out_dir: Path,
    title: str,
    metrics: Mapping[str, Mapping[str, Any]],
    charts: Mapping[str, Path],
    meta: Mapping[str, Any],
    notes: Sequence[str],
) -> str:
    parts = [f"# {title}", ""]
    if meta:
        parts += ["| | |", "| :--- | :--- |"]
        parts += [
            f"| {_md_cell(_title_case(k))} | {_md_cell(_format_meta(v))} |" for k, v in meta.items()
        ]
        parts.append("")
    parts += ["## Metrics", "", metrics_markdown(metrics)]
    if notes:
        parts += ["## Notes", ""]
        parts += [f"- {note}" for note in notes]
        parts.append("")
    if charts:
        parts += ["## Charts", ""]
        for heading, path in charts.items():
            rel = Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()
            parts += [f"### {_md_cell(heading)}", "", f"![{_md_cell(heading)}]({rel})", ""]
    return "\n".join(parts).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- html


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "image/png")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html(
    title: str,
    metrics: Mapping[str, Mapping[str, Any]],
    images: Mapping[str, tuple[str, str]],
    meta: Mapping[str, Any],
    notes: Sequence[str],
) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if meta:
        out.append('<table class="meta">')
        out += [
            f"<tr><th>{esc(_title_case(k))}</th><td>{esc(_format_meta(v))}</td></tr>"
            for k, v in meta.items()
        ]
        out.append("</table>")

    series = list(metrics)

    def first(j: int) -> str:
        return " first" if j == 0 else ""

    out += ["<h2>Metrics</h2>", '<table class="metrics">', "<thead><tr><th>Metric</th>"]
    out += [f'<th class="series{first(j)}">{esc(s)}</th>' for j, s in enumerate(series)]
    out.append("</tr></thead><tbody>")
    for key in _rows(metrics):
        cells = "".join(
            f'<td class="num{first(j)}">{esc(format_metric(key, metrics[s].get(key)))}</td>'
            for j, s in enumerate(series)
        )
        out.append(f'<tr><th title="{esc(key)}">{esc(_label(key))}</th>{cells}</tr>')
    out.append("</tbody></table>")

    if notes:
        out += ["<h2>Notes</h2>", "<ul>"]
        out += [f"<li>{esc(note)}</li>" for note in notes]
        out.append("</ul>")

    for heading, (anchor, uri) in images.items():
        label = esc(heading)
        out += [f'<h2 id="{esc(anchor)}">{label}</h2>', f'<img src="{uri}" alt="{label}">']

    out += [
        f'<p class="footer">Generated by deepquant {esc(__version__)}.</p>',
        "</body>",
        "</html>",
    ]
    # Character references keep the page ASCII, whatever encoding the writer's locale picks.
    return ("\n".join(out) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def write_report(
    out_dir: Path,
    *,
    title: str,
    metrics: dict[str, dict[str, float]],
    charts: dict[str, Path],
    meta: dict[str, Any],
    notes: Sequence[str] = (),
) -> Path:
    """Write ``report.html`` and ``report.md`` into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder for both files (created if missing); usually the one holding the
        chart PNGs, so the Markdown links stay relative.
    title : str
        Page title and top heading.
    metrics : dict
        Series name -> metric key -> value (see :mod:`shared.metrics`); columns
        follow the dict's order: strategy, benchmark, baselines.
    charts : dict
        Chart title -> image file, in display order. Each becomes a heading
        (the title, as the chart itself states it: see
        :func:`backtest.plots.title_of`) and an embedded image anchored by the
        file's stem.
    meta : dict
        Run facts for the header table (period, rebalance frequency, costs,
        models, universe size, run time, ...); dates, lists and dicts are
        rendered readably.
    notes : sequence of str
        Caveats and remarks, shown as a bulleted list.

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    FileNotFoundError
        When a chart file is missing; nothing is written then.
    """
    out_dir = Path(out_dir)
    # Read every image before writing anything: a missing chart must not leave a stale pair.
    images = {title: (Path(path).stem, _data_uri(Path(path))) for title, path in charts.items()}
    page = _html(title, metrics, images, meta, notes)
    markdown = _markdown(out_dir, title, metrics, charts, meta, notes)
    html_path = atomic_write_text(out_dir / "report.html", page)
    atomic_write_text(out_dir / "report.md", markdown)
    return html_path
