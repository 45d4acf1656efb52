"""The backtest report: one self-contained HTML page and a Markdown twin.

A report is a title and a list of :class:`Section` (heading, text, a table,
a chart, a list, a block of configuration), rendered in the order given.
``report.html`` embeds every chart as a base64 data URI and styles itself
inline, so it can be mailed or archived as a single file and opened
offline; its print styles keep each heading on the page of what it heads.
``report.md`` carries the same sections with relative links to the PNGs.
Both are rendered in memory first and written through a temporary file and
a rename: a failed run leaves no half page.
"""

from __future__ import annotations

import base64
import html
import math
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared import __version__
from shared.atomic import atomic_write_text

__all__ = [
    "METRIC_ROWS",
    "Section",
    "Table",
    "format_metric",
    "format_value",
    "metrics_markdown",
    "metrics_table",
    "write_report",
]

Kind = Literal["pct", "pct1", "ratio", "int", "text"]

# Order, label and format of each known metric (keys of shared.metrics.summary).
METRIC_ROWS: tuple[tuple[str, str, Kind], ...] = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("ann_return", "Annualised mean return", "pct"),
    ("ann_vol", "Annualised volatility", "pct"),
    ("sharpe", "Sharpe ratio [90% interval]", "ratio"),
    ("sharpe_diff_benchmark", "Sharpe minus benchmark's [90%]", "ratio"),
    ("sharpe_diff_sixty_forty", "Sharpe minus 60/40's [90%]", "ratio"),
    ("sharpe_diff_equal_weight", "Sharpe minus equal weight's [90%]", "ratio"),
    ("psr", "Probabilistic Sharpe ratio (P[Sharpe > 0])", "ratio"),
    ("dsr", "Deflated Sharpe ratio", "ratio"),
    ("dsr_trials", "Trials the deflation counts", "int"),
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

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.lead { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f4f6f8; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.first, th.first { background: #eef3fb; font-weight: 600; }
tr:hover td { background: #fafbfc; }
img { max-width: 100%; height: auto; display: block; }
figure { margin: 0.6em 0; }
pre { background: #f6f8fa; padding: 0.8em; font-size: 0.82em; overflow-x: auto; }
.footer { margin-top: 3em; color: #888; font-size: 0.85em; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-inside: avoid; page-break-inside: avoid; }
  p.lead, table, figure { break-before: avoid; page-break-before: avoid; }
  tr, img { break-inside: avoid; page-break-inside: avoid; }
  pre { white-space: pre-wrap; }
  tr:hover td { background: none; }
}
""".strip()


# --------------------------------------------------------------------------- formatting


def format_value(value: Any, kind: Kind) -> str:
    """One table cell: ``pct`` (``12.34%``), ``pct1`` (``12.3%``), ``ratio`` (``1.23``),
    ``int`` or ``text``. ``None``, NaN and infinities read ``n/a``."""
    if value is None:
        return _NA
    if kind == "text" or isinstance(value, (bool, str)):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return _NA
    v += 0.0  # -0.0 -> 0.0, so a flat series does not print "-0.00%".
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "pct1":
        return f"{v:.1%}"
    if kind == "ratio":
        return f"{v:.2f}"
    return f"{round(v):,}"


def format_metric(key: str, value: Any) -> str:
    """Render one metric value for a table.

    Percent-type metrics (returns, volatility, drawdown, VaR, CVaR, alpha,
    tracking error, turnover, cost drag) get two decimals and a ``%`` sign
    (``0.1234`` -> ``12.34%``); ratios two decimals; an unknown key four
    significant digits. ``None``, NaN and infinities read ``n/a``.
    """
    if key in _KNOWN or value is None or isinstance(value, (bool, str)):
        return format_value(value, _KNOWN.get(key, (key, "text"))[1])
    v = float(value)
    return f"{v + 0.0:.4g}" if math.isfinite(v) else _NA


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
    # An interval's bounds print inside their estimate's cell, not as rows of their own.
    bounds = {f"{key}{end}" for key in present for end in _BOUNDS}
    return known + [key for key in present if key not in _KNOWN and key not in bounds]


#: Suffixes of an estimate's interval bounds: ``sharpe_lo``, ``sharpe_hi``.
_BOUNDS = ("_lo", "_hi")


def _cell(key: str, values: Mapping[str, Any]) -> str:
    """``format_metric`` of the value, with ``[lo, hi]`` when the interval is there."""
    text = format_metric(key, values.get(key))
    lo, hi = (values.get(f"{key}{end}") for end in _BOUNDS)
    if lo is None or hi is None or text == _NA:
        return text
    return f"{text} [{format_metric(key, lo)}, {format_metric(key, hi)}]"


# --------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Table:
    """A table of formatted cells.

    Attributes
    ----------
    columns : tuple of str
        Header cells.
    rows : tuple of tuple of str
        Body cells, already formatted; the first column heads each row.
    numeric : tuple of bool
        Per column, whether it is right-aligned (numbers).
    highlight : int or None
        A column to shade (the strategy's).
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    highlight: int | None = None

    def __post_init__(self) -> None:
        if any(len(row) != len(self.columns) for row in self.rows):
            raise ValueError(f"every row needs {len(self.columns)} cells")

    def is_numeric(self, j: int) -> bool:
        return j < len(self.numeric) and self.numeric[j]


@dataclass(frozen=True)
class Section:
    """One part of the report, drawn as: heading, text, table, chart, list, code.

    ``anchor`` is the section's id in the page; ``chart`` a PNG (or SVG)
    file, whose heading should be the chart's own title.
    """

    anchor: str
    heading: str
    text: tuple[str, ...] = ()
    table: Table | None = None
    chart: Path | None = None
    items: tuple[str, ...] = ()
    code: str = ""


def metrics_table(metrics: Mapping[str, Mapping[str, Any]], labels: Sequence[str]) -> Table:
    """The metrics as a :class:`Table`: a row per metric, a column per series (``labels``)."""
    series = list(metrics)
    rows = tuple((_label(key), *(_cell(key, metrics[s]) for s in series)) for key in _rows(metrics))
    return Table(("Metric", *labels), rows, (False, *(True,) * len(series)), highlight=1)


def _md_cell(text: str) -> str:
    # A pipe would end the cell early; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    align = [("---:" if table.is_numeric(j) else ":---") for j in range(len(table.columns))]
    lines = [
        "| " + " | ".join(_md_cell(c) for c in table.columns) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def metrics_markdown(
    metrics: Mapping[str, Mapping[str, Any]], labels: Sequence[str] | None = None
) -> str:
    """The metrics as a GitHub-flavoured Markdown table, ending with a newline.

    Parameters
    ----------
    metrics : mapping
        Series name -> metric key -> value, e.g. the content of
        ``metrics.json``; columns follow the mapping's order.
    labels : sequence of str, optional
        Column headers for the series (default: the series names).
    """
    table = metrics_table(metrics, list(metrics) if labels is None else labels)
    return "\n".join(_md_table(table)) + "\n"


# --------------------------------------------------------------------------- markdown


def _markdown(out_dir: Path, title: str, sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    for sec in sections:
        parts += [f"## {_md_cell(sec.heading)}", ""]
        for para in sec.text:
            parts += [para, ""]
        if sec.table is not None:
            parts += [*_md_table(sec.table), ""]
        if sec.chart is not None:
            rel = Path(os.path.relpath(Path(sec.chart).resolve(), out_dir.resolve())).as_posix()
            parts += [f"![{_md_cell(sec.heading)}]({rel})", ""]
        if sec.items:
            parts += [*(f"- {item}" for item in sec.items), ""]
        if sec.code:
            parts += ["```toml", sec.code.rstrip("\n"), "```", ""]
    return "\n".join(parts).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- html

_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class _Image:
    uri: str
    width: int | None  # CSS pixels: half the PNG's, which is drawn at 2 device pixels per px
    height: int | None


def _image(path: Path) -> _Image:
    data = Path(path).read_bytes()
    mime = _MIME.get(Path(path).suffix.lower(), "image/png")
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return _Image(uri, max(1, w // 2), max(1, h // 2))
    return _Image(uri, None, None)


def _html_table(table: Table) -> list[str]:
    esc = html.escape

    def cls(j: int) -> str:
        names = [n for n, on in (("num", table.is_numeric(j)), ("first", j == table.highlight))
                 if on]  # fmt: skip
        return f' class="{" ".join(names)}"' if names else ""

    out = ["<table>", "<thead><tr>"]
    out += [f"<th{cls(j)}>{esc(c)}</th>" for j, c in enumerate(table.columns)]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        cells = [f"<th>{esc(row[0])}</th>"] + [
            f"<td{cls(j)}>{esc(c)}</td>" for j, c in enumerate(row) if j > 0
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def _html_section(sec: Section, image: _Image | None) -> list[str]:
    esc = html.escape
    out = [f'<section id="{esc(sec.anchor)}">', f"<h2>{esc(sec.heading)}</h2>"]
    out += [f'<p class="lead">{esc(para)}</p>' for para in sec.text]
    if sec.table is not None:
        out += _html_table(sec.table)
    if image is not None:
        size = f' width="{image.width}" height="{image.height}"' if image.width else ""
        out.append(f'<figure><img src="{image.uri}"{size} alt="{esc(sec.heading)}"></figure>')
    if sec.items:
        out += ["<ul>", *(f"<li>{esc(item)}</li>" for item in sec.items), "</ul>"]
    if sec.code:
        out.append(f"<pre>{esc(sec.code)}</pre>")
    out.append("</section>")
    return out


def _html(title: str, sections: Sequence[Section], images: Mapping[str, _Image]) -> str:
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
    for sec in sections:
        out += _html_section(sec, images.get(sec.anchor))
    out += [
        f'<p class="footer">Generated by deepquant {esc(__version__)}.</p>',
        "</body>",
        "</html>",
    ]
    # Character references keep the page ASCII, whatever encoding the writer's locale picks.
    return ("\n".join(out) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def write_report(out_dir: Path, *, title: str, sections: Sequence[Section]) -> Path:
    """Write ``report.html`` and ``report.md`` into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder for both files (created if missing); usually the one holding the
        chart PNGs, so the Markdown links stay relative.
    title : str
        Page title and top heading.
    sections : sequence of Section
        In reading order; anchors must be unique.

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    FileNotFoundError
        When a chart file is missing; nothing is written then.
    ValueError
        When two sections share an anchor.
    """
    anchors = [sec.anchor for sec in sections]
    if len(set(anchors)) < len(anchors):
        raise ValueError(f"section anchors repeat: {anchors}")
    out_dir = Path(out_dir)
    # Read every image before writing anything: a missing chart must not leave a stale pair.
    images = {sec.anchor: _image(sec.chart) for sec in sections if sec.chart is not None}
    page = _html(title, sections, images)
    markdown = _markdown(out_dir, title, sections)
    html_path = atomic_write_text(out_dir / "report.html", page)
    atomic_write_text(out_dir / "report.md", markdown)
    return html_path
