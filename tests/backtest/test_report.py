"""backtest.report: self-contained HTML, Markdown twin, formats and atomic writes."""

from __future__ import annotations

import base64
import math
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from backtest import plots, report
from backtest.report import (
    Section,
    Table,
    format_metric,
    metrics_markdown,
    metrics_table,
    write_report,
)

IMG = '<img src="data:image/png;base64,'

METRICS: dict[str, dict[str, float]] = {
    "strategy": {
        "total_return": 0.1234, "cagr": 0.0581, "ann_vol": 0.1012, "sharpe": 1.2345,
        "sortino": math.nan, "max_drawdown": -0.2, "var_95": 0.0151, "cvar_95": 0.0222,
        "beta": 0.61, "alpha": 0.021, "turnover": 2.5, "cost_drag": 0.0031,
    },
    "benchmark": {
        "total_return": 0.3, "cagr": 0.12, "ann_vol": 0.17, "sharpe": 0.7, "sortino": 1.0,
        "max_drawdown": -0.34, "var_95": 0.017, "cvar_95": 0.026, "beta": 1.0, "alpha": 0.0,
    },
    "equal_weight": {
        "total_return": -0.05, "cagr": -0.02, "ann_vol": 0.12, "sharpe": -0.1, "sortino": -0.2,
        "max_drawdown": -0.25, "var_95": 0.012, "cvar_95": 0.018, "hit_rate": 0.5321,
    },
}  # fmt: skip


def tiny_png(path: Path) -> Path:
    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1, 2], [1, 3, 2])
    return plots.save(fig, path)


@pytest.fixture(scope="module")
def pngs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    src = tmp_path_factory.mktemp("pngs")
    return {name: tiny_png(src / f"{name}.png").read_bytes() for name in ("a", "b", "c")}


NOTES = ("Costs are 10 bps per unit of one-way turnover.", "Past results <do not> repeat.")


@pytest.fixture
def charts(tmp_path: Path, pngs: dict[str, bytes]) -> dict[str, Path]:
    """Three charts in the report folder, one of them in a subfolder, keyed by anchor."""
    paths = {
        "equity": tmp_path / "out" / "equity_curves.png",
        "drawdown": tmp_path / "out" / "drawdowns.png",
        "frontier": tmp_path / "out" / "charts" / "frontier.png",
    }
    for path, data in zip(paths.values(), pngs.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return paths


HEADINGS = {"equity": "Growth of 1", "drawdown": "Drawdown", "frontier": "Frontier | latest"}


def sections(charts: dict[str, Path]) -> list[Section]:
    holdings = Table(("Ticker", "Weight"), (("A<B", "60.0%"), ("C", "40.0%")), (False, True))
    return [
        Section("summary", "Summary", text=("One <sentence>.",), items=NOTES),
        Section("holdings", "Holdings", table=holdings),
        Section("metrics", "Risk and return", table=metrics_table(METRICS, list(METRICS))),
        *(Section(a, HEADINGS.get(a, a), chart=p) for a, p in charts.items()),
        Section("reproduce", "Configuration", code='[data]\nsource = "sample"\n'),
    ]


def render(out: Path, charts: dict[str, Path]) -> tuple[str, str]:
    path = write_report(out, title="Walk-forward <backtest>", sections=sections(charts))
    assert path == out / "report.html"
    return path.read_text(encoding="utf-8"), (out / "report.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("total_return", 0.1234, "12.34%"),
        ("max_drawdown", -0.2, "-20.00%"),
        ("var_95", 0.01512, "1.51%"),
        ("turnover", 2.5, "250.00%"),
        ("alpha", -0.0, "0.00%"),
        ("sharpe", 1.2345, "1.23"),
        ("beta", 0.6, "0.60"),
        ("sharpe", math.nan, "n/a"),
        ("ann_vol", math.inf, "n/a"),
        ("calmar", None, "n/a"),
        ("hit_rate", 0.53214, "0.5321"),
    ],
)
def test_format_metric(key: str, value: Any, text: str) -> None:
    assert format_metric(key, value) == text


def test_every_summary_key_has_a_label() -> None:
    import numpy as np

    from backtest.statistics import REFERENCES, sharpe_statistics
    from shared.metrics import summary

    r = np.random.default_rng(0).normal(0, 0.01, 300)
    keys = set(summary(r, benchmark=r[::-1], turnover=1.0, cost_drag=0.001))
    series = {name: r[::-1] if name == "benchmark" else r for name in ("strategy", *REFERENCES)}
    stats = sharpe_statistics(series, np.zeros(300), 252, reps=50)["strategy"]
    keys |= {k for k in stats if not k.endswith(("_lo", "_hi"))}
    assert keys == {key for key, _, _ in report.METRIC_ROWS}


# --------------------------------------------------------------------------- markdown


def test_metrics_markdown_table() -> None:
    md = metrics_markdown(METRICS)
    lines = md.strip().splitlines()
    assert lines[0] == "| Metric | strategy | benchmark | equal_weight |"
    assert lines[1] == "| :--- | ---: | ---: | ---: |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["Total return"] == "| Total return | 12.34% | 30.00% | -5.00% |"
    assert rows["Sortino ratio"] == "| Sortino ratio | n/a | 1.00 | -0.20 |"
    # A metric one series lacks is n/a there; an unknown metric comes last, labelled plainly.
    assert rows["Turnover (annual, one-way)"].endswith("| 250.00% | n/a | n/a |")
    assert lines[-1] == "| Hit rate | n/a | n/a | 0.5321 |"
    assert all(line.count("|") == 5 for line in lines)


# --------------------------------------------------------------------------- report


def test_html_is_self_contained(tmp_path: Path, charts: dict[str, Path]) -> None:
    html, _ = render(tmp_path / "out", charts)
    assert html.count(IMG) == len(charts)
    first = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert first is not None
    assert base64.b64decode(first.group(1)) == next(iter(charts.values())).read_bytes()
    for external in ('src="http', "href=", "<link", "<script", "url("):
        assert external not in html
    assert html.isascii()
    # Sections follow the given order, each under its own heading.
    heads = re.findall(r'<section id="(\w+)">\n<h2>([^<]+)</h2>', html)
    assert [a for a, _ in heads] == ["summary", "holdings", "metrics", *charts, "reproduce"]
    assert heads[3] == ("equity", "Growth of 1")


def test_images_are_drawn_at_half_their_pixels(tmp_path: Path, charts: dict[str, Path]) -> None:
    html, _ = render(tmp_path / "out", charts)
    data = charts["equity"].read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    assert f'width="{width // 2}" height="{height // 2}"' in html


def test_html_tables_text_and_escaping(tmp_path: Path, charts: dict[str, Path]) -> None:
    html, _ = render(tmp_path / "out", charts)
    assert "<title>Walk-forward &lt;backtest&gt;</title>" in html
    for text in ("12.34%", "-20.00%", "1.23", "n/a", "250.00%", "0.5321"):
        assert f">{text}</td>" in html
    assert "<th>A&lt;B</th>" in html
    assert '<p class="lead">One &lt;sentence&gt;.</p>' in html
    assert "<li>Past results &lt;do not&gt; repeat.</li>" in html
    assert "<pre>[data]\nsource = &quot;sample&quot;\n</pre>" in html
    assert "@media print" in html and "break-after: avoid" in html


def test_markdown_report_links_relative(tmp_path: Path, charts: dict[str, Path]) -> None:
    _, md = render(tmp_path / "out", charts)
    assert md.startswith("# Walk-forward <backtest>\n")
    assert "| Metric | strategy | benchmark | equal_weight |" in md
    assert "## Growth of 1" in md
    assert "![Growth of 1](equity_curves.png)" in md
    assert "![Frontier \\| latest](charts/frontier.png)" in md
    assert "- Costs are 10 bps per unit of one-way turnover." in md
    assert "| A<B | 60.0% |" in md
    assert '```toml\n[data]\nsource = "sample"\n```' in md


def test_repeated_anchor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="anchors repeat"):
        write_report(tmp_path, title="t", sections=[Section("a", "A"), Section("a", "B")])


def test_missing_chart_writes_nothing(tmp_path: Path, charts: dict[str, Path]) -> None:
    out = tmp_path / "out"
    charts["dendrogram"] = out / "nope.png"
    with pytest.raises(FileNotFoundError):
        render(out, charts)
    assert not (out / "report.html").exists()
    assert not (out / "report.md").exists()


def test_failed_write_leaves_no_partial_report(
    tmp_path: Path, charts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    before = set(out.rglob("*"))

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("shared.atomic.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        render(out, charts)
    assert not (out / "report.html").exists()
    assert set(out.rglob("*")) == before, "no temporary file left behind"


def test_failed_rewrite_keeps_previous_report(
    tmp_path: Path, charts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    old_html, _ = render(out, charts)

    def boom(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr("shared.atomic.os.fsync", boom)
    with pytest.raises(OSError, match="I/O error"):
        write_report(out, title="new", sections=sections(charts))
    assert (out / "report.html").read_text(encoding="utf-8") == old_html
