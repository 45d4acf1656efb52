"""decide_asof and the inference outputs, on the embedded sample with a linear ONNX encoder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from inferer.embed import Embedder
from inferer.output import CSV_COLUMNS, write_outputs
from inferer.pipeline import decide_asof
from inferer.run import Run
from shared.atomic import atomic_write_text
from shared.bundle import load_bundle
from shared.config import Settings
from shared.errors import BundleError, DataError
from shared.features import compute_features
from shared.prices.sample import SAMPLE_CLASSES
from shared.universe import Universe
from tests.bundles import make_bundle

SETTINGS = Settings.model_validate(
    {"inference": {"n_clusters": "auto", "min_clusters": 3, "max_clusters": 8}}
)
ASOF = dt.date(2019, 6, 28)
UNIVERSE = Universe(tuple(SAMPLE_CLASSES), dict(SAMPLE_CLASSES))


@pytest.fixture(scope="module")
def bundle(sample_prices: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    path = make_bundle(
        tmp_path_factory.mktemp("m") / "b",
        sample_prices,
        dt.date(2016, 1, 1),
        dt.date(2017, 12, 29),
    )
    return load_bundle(path)


def test_allocation_is_valid_and_explained(sample_prices: pl.DataFrame, bundle) -> None:
    alloc = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    w = np.array(list(alloc.weights.values()))
    assert np.isfinite(w).all() and (w >= 0).all() and abs(w.sum() - 1) < 1e-9
    assert list(w) == sorted(w, reverse=True)
    assert alloc.asof == ASOF and len(alloc.clusters) == 26
    # one asset per cluster (top_n = 1), each the best excess-Sharpe member of its cluster
    held_clusters = [alloc.clusters[t] for t in alloc.weights]
    assert len(set(held_clusters)) == len(held_clusters)
    best = {}
    for s in alloc.stats:
        if np.isfinite(s.sharpe) and s.sharpe > best.get(s.cluster, (-np.inf, ""))[0]:
            best[s.cluster] = (s.sharpe, s.ticker)
    assert set(alloc.weights) == {t for _, t in best.values()}
    assert set(alloc.timings) == {"features", "windows", "embed", "cluster", "select", "allocate"}


def test_no_look_ahead_outputs_unchanged_when_the_future_changes(
    sample_prices: pl.DataFrame, bundle, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    later = (sample_prices["date"] > ASOF).to_numpy()
    shocked = sample_prices.with_columns(
        pl.Series(
            c,
            np.where(
                later,
                sample_prices[c].to_numpy() * rng.uniform(0.5, 2, later.size),
                sample_prices[c].to_numpy(),
            ),
        )
        for c in sample_prices.columns[1:]
    )
    paths = []
    for i, prices in enumerate([sample_prices, shocked]):
        alloc = decide_asof(prices, ASOF, bundle, SETTINGS)
        paths.append(write_outputs(alloc, tmp_path / str(i), UNIVERSE, config_digest="x")[0])
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_precomputed_features_give_the_same_allocation(sample_prices: pl.DataFrame, bundle) -> None:
    cube = compute_features(sample_prices, SETTINGS.features)
    a = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    b = decide_asof(sample_prices, ASOF, bundle, SETTINGS, Run(1, features=cube))
    assert a.weights == b.weights and a.clusters == b.clusters


def test_outputs_schema_and_rerun_is_identical(
    sample_prices: pl.DataFrame, bundle, tmp_path: Path
) -> None:
    alloc = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    csv, run = write_outputs(alloc, tmp_path, UNIVERSE, config_digest="abc")
    first = csv.read_bytes()
    frame = pl.read_csv(csv)
    assert tuple(frame.columns) == CSV_COLUMNS
    assert csv.name == "weights_2019-06-28.csv" and run.name == "run_2019-06-28.json"
    assert abs(frame["weight"].sum() - 1) < 1e-9
    assert set(frame["asset_class"]) <= {"us_stock", "us_equity"}
    record = json.loads(run.read_text())
    assert record["bundle"]["sha256"] == bundle.manifest.model_sha256
    assert sum(len(c["members"]) for c in record["clusters"]) == 26
    again = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    write_outputs(again, tmp_path, UNIVERSE, config_digest="abc")
    assert csv.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [run.name, csv.name]


def test_interrupted_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "weights.csv"
    target.write_text("old,complete\n")
    with pytest.raises(TypeError):
        atomic_write_text(target, 123)  # type: ignore[arg-type]  # fails after the temp file opens
    assert target.read_text() == "old,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.csv"]


def test_risk_free_ticker_must_exist(sample_prices: pl.DataFrame, bundle) -> None:
    settings = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"risk_free": "BIL"})}
    )
    with pytest.raises(DataError, match="risk-free ticker 'BIL'"):
        decide_asof(sample_prices, ASOF, bundle, settings)


def test_too_early_or_all_nan_prices_are_clear_errors(sample_prices: pl.DataFrame, bundle) -> None:
    with pytest.raises(DataError, match="no prices on or before 2000-01-01"):
        decide_asof(sample_prices, dt.date(2000, 1, 1), bundle, SETTINGS)
    blank = sample_prices.with_columns(
        pl.when(pl.col("date") > dt.date(2019, 5, 1)).then(None).otherwise(pl.col(c)).alias(c)
        for c in sample_prices.columns[1:]
    )
    with pytest.raises(DataError, match=r"complete window on 2019-06-28|no prices"):
        decide_asof(blank, ASOF, bundle, SETTINGS)


def test_feature_mismatch_with_config_is_refused(sample_prices: pl.DataFrame, bundle) -> None:
    settings = Settings.model_validate({"features": {"rsi_period": 10}})
    with pytest.raises(BundleError, match="rsi_period"):
        decide_asof(sample_prices, ASOF, bundle, settings)


def test_cash_like_assets_are_never_selected() -> None:
    from inferer.day import cash_like_assets

    rng = np.random.default_rng(0)
    r = np.column_stack([rng.normal(0.0002, 0.0001, 252), rng.normal(0.0005, 0.01, 252)])
    r[:10, 1] = np.nan
    got = cash_like_assets(r, ["SGOV", "SPY"], 0.01, 252.0)
    assert list(got) == ["SGOV"] and "cash-like: annual volatility 0.1" in got["SGOV"]
    assert cash_like_assets(r, ["SGOV", "SPY"], 0.0, 252.0) == {}


def test_cash_like_filter_in_allocation(sample_prices: pl.DataFrame, bundle) -> None:
    # With a floor above every stock's volatility nothing qualifies: a clear error.
    high = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"min_vol": 5.0})}
    )
    with pytest.raises(DataError):
        decide_asof(sample_prices, ASOF, bundle, high)
    # A floor between the stocks' volatilities removes the calm ones from selection.
    mid = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"min_vol": 0.2})}
    )
    alloc = decide_asof(sample_prices, ASOF, bundle, mid)
    calm = {t for t, why in alloc.skipped.items() if why.startswith("cash-like")}
    assert calm and not calm & set(alloc.weights)


def test_a_killed_writer_leaves_no_partial_csv(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "weights_2024-01-02.csv"
    code = (
        "import sys, time; from shared.atomic import atomic_open\n"
        "with atomic_open(sys.argv[1]) as fh:\n"
        "    fh.write('asof,ticker,weight\\n' * 1000); fh.flush()\n"
        "    print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.1)
    assert not target.exists()
    # Only the hidden temporary file is left; nothing named like an output.
    assert all(p.name.startswith(".") for p in tmp_path.iterdir())


def _with(**update: int) -> Settings:
    return SETTINGS.model_copy(update={"inference": SETTINGS.inference.model_copy(update=update)})


def _embedded_on(
    prices: pl.DataFrame, bundle, days: list[int], tickers: list[str]
) -> list[np.ndarray]:
    """Rows of ``tickers``: each one's embedding on the trading days ``days`` back from ASOF."""
    from shared.scaling import Scaler
    from shared.windows import windows_asof

    cube = compute_features(prices.filter(pl.col("date") <= ASOF), SETTINGS.features)
    embedder, scaler = Embedder(bundle, 1), Scaler.from_dict(bundle.manifest.scaler)
    assert cube.dates[-1].item() == ASOF
    out = []
    for back in days:
        day = cube.dates[len(cube.dates) - 1 - back].item()
        win = windows_asof(cube, day, bundle.manifest.window, scaler)
        emb = dict(zip(win.tickers, embedder.embed(win.values), strict=True))
        out.append(np.stack([emb[t] for t in tickers]).astype(np.float64))
    return out


def test_embed_days_averages_the_embeddings_of_the_last_days(
    sample_prices: pl.DataFrame, bundle
) -> None:
    alloc = decide_asof(sample_prices, ASOF, bundle, _with(embed_days=3))
    per_day = _embedded_on(sample_prices, bundle, [2, 1, 0], list(alloc.clusters))
    np.testing.assert_allclose(alloc.embeddings, np.mean(per_day, axis=0), rtol=1e-5, atol=1e-6)
    # One day: that day's embeddings, as before the setting existed.
    one = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    np.testing.assert_allclose(one.embeddings, per_day[-1], rtol=1e-5, atol=1e-6)


def test_smooth_months_clusters_the_mean_distance_of_monthly_windows(
    sample_prices: pl.DataFrame, bundle
) -> None:
    from scipy.spatial.distance import pdist

    alloc = decide_asof(sample_prices, ASOF, bundle, _with(smooth_months=3))
    squared = []
    for rows in _embedded_on(sample_prices, bundle, [0, 21, 42], list(alloc.clusters)):
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        squared.append(pdist(rows, "sqeuclidean"))
    got = pdist(alloc.embeddings.astype(np.float64), "sqeuclidean")
    np.testing.assert_allclose(got, np.mean(squared, axis=0), rtol=1e-4, atol=1e-5)
    # Hand check on one pair: the mean of the three months' squared distances.
    assert got[0] == pytest.approx((squared[0][0] + squared[1][0] + squared[2][0]) / 3, rel=1e-4)
    # The clusters differ from one month's alone on this sample (the setting acts).
    one = decide_asof(sample_prices, ASOF, bundle, SETTINGS)
    assert not np.allclose(pdist(one.embeddings, "cosine"), got / 2, atol=1e-3)


def test_cash_goes_to_the_risk_free_ticker_and_the_run_says_why(
    sample_prices: pl.DataFrame, bundle, tmp_path: Path
) -> None:
    # MTUM as the "cash" proxy of this test: the sample has no T-bill fund.
    capped = SETTINGS.model_copy(
        update={
            "inference": SETTINGS.inference.model_copy(
                update={"risk_free": "MTUM", "vol_target": 0.05, "top_n": 2}
            )
        }
    )
    alloc = decide_asof(sample_prices, ASOF, bundle, capped)
    assert sum(alloc.weights.values()) == pytest.approx(1.0)
    assert "vol target" in alloc.notes["(portfolio)"]
    risky = 1.0 - alloc.weights["MTUM"]
    assert 0 < risky < 1
    _, run = write_outputs(alloc, tmp_path, UNIVERSE, config_digest="abc")
    record = json.loads(run.read_text())
    assert record["allocation"]["construction_notes"] == alloc.notes
    assert {"momentum", "excess_return"} <= set(record["candidates"][0])
