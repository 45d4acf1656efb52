"""The report's words and tables: every section in order, holdings and trades that add up."""

from __future__ import annotations

import re
import tomllib

import pytest
from click.testing import Result

from backtest.names import SECTIONS
from backtest.sections import settings_toml
from shared.config import load_settings, parse_settings
from tests.backtest.conftest import SAMPLE_CONFIG


def _html(run: Result) -> str:
    return (run.out / "report.html").read_text(encoding="utf-8")  # type: ignore[attr-defined]


def _table(html: str, anchor: str) -> list[list[str]]:
    section = re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S)
    assert section is not None, anchor
    return [re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", section.group(1), re.S)]  # fmt: skip


def test_every_section_in_reading_order(backtest_run: Result) -> None:
    html = _html(backtest_run)
    anchors = re.findall(r'<section id="(\w+)">', html)
    assert anchors == [a for a in SECTIONS if a != "regime"]  # the regime layer is off
    for anchor in ("summary", "holdings", "trades", "metrics", "yearly", "reproduce"):
        heading = re.search(rf'<section id="{anchor}">\n<h2>([^<]+)</h2>', html)
        assert heading is not None and heading.group(1) == SECTIONS[anchor]
    # No local path and no run time: a report reads the same wherever it was made.
    assert "/tmp" not in html and "run time" not in html.lower()


def test_summary_has_a_sentence_per_series(backtest_run: Result) -> None:
    html = _html(backtest_run)
    summary = re.search(r'<section id="summary">(.*?)</section>', html, re.S)
    assert summary is not None
    items = re.findall(r"<li>([^<]+)</li>", summary.group(1))
    for label in ("Strategy:", "Benchmark, held", "Equal weight:", "HRP, all assets:"):
        assert any(item.startswith(label) for item in items), label


def test_holdings_and_trades_add_up(backtest_run: Result) -> None:
    html = _html(backtest_run)
    holdings = _table(html, "holdings")
    assert holdings[0] == ["Ticker", "Asset class", "Cluster", "Weight", "Risk contribution"]
    weights = {row[0]: float(row[3].rstrip("%")) for row in holdings[1:]}
    risk = [float(row[4].rstrip("%")) for row in holdings[1:]]
    assert sum(weights.values()) == pytest.approx(100, abs=0.1 * len(weights))
    assert sum(risk) == pytest.approx(100, abs=0.1 * len(risk))
    trades = _table(html, "trades")
    assert trades[0] == ["Ticker", "Before", "After", "Change"]
    for ticker, before, after, change in trades[1:]:
        b, a, c = (float(x.rstrip("%")) for x in (before, after, change))
        assert c == pytest.approx(a - b, abs=0.11)
        assert a == pytest.approx(weights.get(ticker, 0.0), abs=0.051)


def test_metrics_state_their_assumptions(backtest_run: Result) -> None:
    html = _html(backtest_run)
    metrics = re.search(r'<section id="metrics">(.*?)</section>', html, re.S)
    assert metrics is not None
    assert "risk-free rate: a constant 0.0% a year" in metrics.group(1)
    assert "Costs: 10 bps plus 0 bps slippage" in metrics.group(1)


def test_settings_toml_reads_back_as_the_same_settings() -> None:
    settings = load_settings(SAMPLE_CONFIG)
    text = settings_toml(settings)
    again = parse_settings(tomllib.loads(text))
    # Paths are shown by name only; everything else is the run's own setting.
    assert again.model_copy(update={"data": again.data.model_copy(
        update={"cache_dir": settings.data.cache_dir})}) == settings  # fmt: skip
