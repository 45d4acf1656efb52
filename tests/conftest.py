"""Shared fixtures: the real price panel beside the repo and the embedded sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.bundles import make_bundle
from tests.cleaning import clean
from tests.paths import SHARED_BENCHMARK, SHARED_PANEL

_MISSING_PANEL = f"shared price panel not found at {SHARED_PANEL}"
#: Node ids of the tests skipped because the shared panel is missing.
_NEED_PANEL: list[str] = []


def skip_without_shared_panel() -> Path:
    """The shared panel's path; skips the test (named in the summary) when it is missing."""
    if not SHARED_PANEL.is_file():
        pytest.skip(_MISSING_PANEL)
    return SHARED_PANEL


@pytest.fixture(scope="session")
def shared_panel_path() -> Path:
    return skip_without_shared_panel()


@pytest.fixture(scope="session")
def shared_benchmark_path() -> Path:
    """The benchmark's history since 1993 beside the shared panel (skipped like it when missing)."""
    skip_without_shared_panel()
    if not SHARED_BENCHMARK.is_file():
        pytest.skip(_MISSING_PANEL)
    return SHARED_BENCHMARK


@pytest.fixture(scope="session")
def sample_prices() -> pl.DataFrame:
    from shared.prices.sample import load_sample

    return clean(load_sample()).prices


@pytest.fixture(scope="session")
def sp500_returns() -> Any:
    """Real daily returns, a pandas frame: 20 US stocks, the last two years of skfolio's data."""
    from skfolio.datasets import load_sp500_dataset

    return load_sp500_dataset().iloc[-505:].pct_change().iloc[1:]


@pytest.fixture(scope="session")
def sample_models(sample_prices: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two linear-encoder bundles, trained to the ends of 2017 and 2018."""
    models = tmp_path_factory.mktemp("models")
    for year in (2017, 2018):
        make_bundle(
            models / f"{year}-12-29",
            sample_prices,
            dt.date(year - 1, 1, 1),
            dt.date(year, 12, 29),
            latent=16,
        )
    return models


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and _MISSING_PANEL in str(report.longrepr):
        _NEED_PANEL.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # A missing panel must not vanish into a skip count: these tests check real data.
    if _NEED_PANEL:
        terminalreporter.section("shared price panel missing", sep="!", red=True, bold=True)
        terminalreporter.line(
            f"{len(_NEED_PANEL)} tests need {SHARED_PANEL} and did not run; check out the "
            "shared folder beside the repository or set DEEPQUANT_SHARED_DATA:"
        )
        for node in _NEED_PANEL:
            terminalreporter.line(f"  {node}")
