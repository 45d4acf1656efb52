"""The training loop and walk-forward training, on the embedded real sample with tiny models."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from shared.bundle import find_bundle, load_bundle
from shared.config import ModelSettings, Settings, TrainSettings
from shared.errors import DataError
from shared.features import FeatureCube, compute_features
from shared.scaling import Scaler
from trainer import train as train_mod
from trainer.train import evaluate, fit, lr_factor, naive_losses
from trainer.walkforward import (
    add_months,
    retrain_dates,
    split_windows,
    train_walk_forward,
    years_before,
)

TINY_MODEL = ModelSettings(d_model=16, n_heads=2, n_layers=1, d_ff=32, latent=8)
TINY_TRAIN = TrainSettings(
    epochs=4, batch_size=32, stride=2, lr=3e-3, patience=3, threads=1, max_minutes=0, device="cpu"
)
SETTINGS = Settings(model=TINY_MODEL, train=TINY_TRAIN)
START, END = dt.date(2015, 1, 1), dt.date(2016, 12, 31)


@pytest.fixture(scope="module")
def cube(sample_prices: pl.DataFrame) -> FeatureCube:
    return compute_features(sample_prices.filter(pl.col("date") <= END), SETTINGS.features)


@pytest.fixture(scope="module")
def split(cube: FeatureCube):
    return split_windows(cube, SETTINGS, START, END)


@pytest.fixture(scope="module")
def result(split):
    return fit(split.train, split.val, TINY_MODEL, TINY_TRAIN, progress=False)


def test_split_is_in_time_order_with_a_gap(cube: FeatureCube, split) -> None:
    days = cube.dates[
        (cube.dates >= np.datetime64(split.start)) & (cube.dates <= np.datetime64(END))
    ]
    pos = {d.item(): i for i, d in enumerate(days)}
    assert split.start <= split.train_end < split.val_start <= split.end <= END
    # No validation window shares a day with a training window.
    assert pos[split.val_start] - pos[split.train_end] >= SETTINGS.features.window
    n_val_days = len(days) - pos[split.train_end] - 1
    assert n_val_days == pytest.approx(len(days) * TINY_TRAIN.val_fraction, abs=1)
    # The scaler saw the training part only.
    assert split.scaler == Scaler.fit(cube, split.start, split.train_end, SETTINGS.features.clip)


def test_split_rejects_a_too_short_period(cube: FeatureCube) -> None:
    with pytest.raises(DataError, match="too short"):
        split_windows(cube, SETTINGS, dt.date(2016, 3, 1), dt.date(2016, 3, 31))


def test_tiny_model_beats_naive_baseline(result, split) -> None:
    assert result.val_loss < 0.5 * result.naive_val
    assert result.train_loss < 0.5 * result.naive_train
    assert len(result.history) == TINY_TRAIN.epochs
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.windows_per_s > 0 and result.wall_s > 0 and result.device == "cpu"
    # The kept weights are the best epoch's.
    assert result.val_loss == min(row["val_loss"] for row in result.history)
    assert result.history[result.best_epoch - 1]["val_loss"] == result.val_loss
    x_val = train_mod.torch.from_numpy(split.val)
    assert evaluate(result.model, x_val) == pytest.approx(result.val_loss, rel=1e-5)


def test_same_seed_same_curve(split) -> None:
    small = TINY_TRAIN.model_copy(update={"epochs": 2})
    train = split.train[:640]
    a = fit(train, split.val, TINY_MODEL, small, progress=False)
    b = fit(train, split.val, TINY_MODEL, small, progress=False)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    assert [r["val_loss"] for r in a.history] == [r["val_loss"] for r in b.history]
    c = fit(train, split.val, TINY_MODEL, small.model_copy(update={"seed": 1}), progress=False)
    assert c.val_loss != a.val_loss


def test_windows_per_epoch_cap(split, monkeypatch: pytest.MonkeyPatch) -> None:
    small = TINY_TRAIN.model_copy(update={"epochs": 2})
    train = split.train[:640]
    # A cap the data does not reach changes nothing.
    a = fit(train, split.val, TINY_MODEL, small, progress=False)
    b = fit(train, split.val, TINY_MODEL, small.model_copy(update={"max_windows": 640}))
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    # A binding cap trains each epoch on a fresh draw of that many windows.
    seen: list[int] = []
    real_step = train_mod.torch.nn.functional.mse_loss

    def counting(pred, target, *args, **kwargs):
        if train_mod.torch.is_grad_enabled():
            seen.append(len(target))
        return real_step(pred, target, *args, **kwargs)

    monkeypatch.setattr(train_mod.torch.nn.functional, "mse_loss", counting)
    capped = fit(train, split.val, TINY_MODEL, small.model_copy(update={"max_windows": 96}))
    assert sum(seen) == 2 * 96 and max(seen) == TINY_TRAIN.batch_size
    assert capped.n_train == 640 and np.isfinite(capped.val_loss)


def test_split_caps_windows_kept_in_memory(cube: FeatureCube) -> None:
    capped = SETTINGS.model_copy(
        update={"train": TINY_TRAIN.model_copy(update={"max_windows": 100, "epochs": 3})}
    )
    split = split_windows(cube, capped, START, END)
    assert len(split.train) == 300 and len(split.val) == 100


def test_early_stopping_keeps_best(split, monkeypatch: pytest.MonkeyPatch) -> None:
    losses = iter([0.5, 0.7, 0.9, 0.95, 0.99])
    real = train_mod.evaluate
    monkeypatch.setattr(
        train_mod, "evaluate", lambda m, x: next(losses) if len(x) == len(split.val) else real(m, x)
    )
    ts = TINY_TRAIN.model_copy(update={"epochs": 5, "patience": 2, "stride": 9})
    res = fit(split.train[:256], split.val, TINY_MODEL, ts, progress=False)
    assert res.stopped == "early_stopping"
    assert len(res.history) == 3 and res.best_epoch == 1 and res.val_loss == 0.5


def test_max_minutes_and_denoising(split) -> None:
    ts = TINY_TRAIN.model_copy(update={"epochs": 3, "max_minutes": 1e-6})
    ms = TINY_MODEL.model_copy(update={"noise_std": 0.1, "mask_prob": 0.1})
    res = fit(split.train[:256], split.val, ms, ts, progress=True)
    assert res.stopped == "max_minutes" and len(res.history) == 1


def test_helpers() -> None:
    train = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    naive_train, naive_val = naive_losses(train, train + 1)
    mean = train.reshape(-1, 2).mean(axis=0)
    assert naive_train == pytest.approx(float(((train - mean) ** 2).mean()))
    assert naive_val == pytest.approx(naive_train + 1)
    assert lr_factor(0, 100) < lr_factor(4, 100) == 1.0
    assert lr_factor(99, 100) == pytest.approx(train_mod.FINAL_LR_FRACTION, abs=1e-3)
    with pytest.raises(ValueError, match="non-empty"):
        fit(train, train[:0], TINY_MODEL, TINY_TRAIN)


def test_dates() -> None:
    assert add_months(dt.date(2020, 1, 31), 1) == dt.date(2020, 2, 29)
    assert add_months(dt.date(2020, 11, 15), 14) == dt.date(2022, 1, 15)
    assert years_before(dt.date(2022, 1, 1), 2) == dt.date(2020, 1, 1)
    assert retrain_dates(dt.date(2020, 1, 1), dt.date(2021, 1, 1), 6) == [
        dt.date(2020, 1, 1),
        dt.date(2020, 7, 1),
        dt.date(2021, 1, 1),
    ]
    with pytest.raises(ValueError):
        retrain_dates(dt.date(2020, 1, 1), dt.date(2021, 1, 1), 0)


FAST = Settings(
    model=TINY_MODEL,
    train=TINY_TRAIN.model_copy(update={"epochs": 1, "stride": 5, "train_years": 1.0}),
)


def test_walk_forward_bundles_trained_strictly_before_their_date(
    sample_prices: pl.DataFrame, tmp_path: Path
) -> None:
    paths = train_walk_forward(
        sample_prices, FAST, dt.date(2017, 1, 1), dt.date(2017, 12, 31), 6, tmp_path
    )
    assert [p.name for p in paths] == ["2017-01-01", "2017-07-01"]
    for path in paths:
        day = dt.date.fromisoformat(path.name)
        manifest = load_bundle(path, features=FAST.features).manifest
        assert manifest.train_end_date < day
        assert manifest.train_start_date >= years_before(day, 1.0)
    assert find_bundle(tmp_path, dt.date(2017, 6, 29)).path == paths[0]
    # Trained on prices up to 2017-06-30's close: usable at that close.
    assert find_bundle(tmp_path, dt.date(2017, 6, 30)).path == paths[1]


def test_cli_writes_a_bundle(sample_prices: pl.DataFrame, tmp_path: Path) -> None:
    from trainer.cli import train

    panel = tmp_path / "panel.csv"
    sample_prices.filter(pl.col("date") <= dt.date(2017, 6, 30)).write_csv(panel)
    config = tmp_path / "c.toml"
    config.write_text(
        "[model]\nd_model = 16\nn_heads = 2\nn_layers = 1\nd_ff = 32\nlatent = 8\n"
        '[train]\nstart = 2016-01-01\nepochs = 1\nstride = 5\ndevice = "cpu"\n'
    )
    out = tmp_path / "model"
    res = CliRunner().invoke(
        train,
        ["--config", str(config), "--prices", str(panel), "--end", "2016-12-31", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "one bundle, trained on 2016-01-01 .. 2016-12-31" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.onnx"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["train_start"] >= "2016-01-01" and manifest["train_end"] <= "2016-12-31"
    assert manifest["losses"]["val"] < manifest["losses"]["naive_val"]
    assert set(manifest["universe"]) == set(sample_prices.columns) - {"date"}


def test_device_auto_is_cuda_where_there_is_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shared.errors import ConfigError
    from trainer.train import pick_device

    monkeypatch.setattr(train_mod.torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu" and pick_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="no CUDA device"):
        pick_device("cuda")
    monkeypatch.setattr(train_mod.torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda" and pick_device("cpu").type == "cpu"


def test_bf16_steps_train_as_well_on_the_cpu(result, split) -> None:
    # bfloat16 autocast for the forward pass and the loss; validation stays float32.
    bf16 = TINY_TRAIN.model_copy(update={"precision": "bf16"})
    mixed = fit(split.train, split.val, TINY_MODEL, bf16, progress=False)
    assert mixed.val_loss < 0.5 * mixed.naive_val
    assert mixed.val_loss == pytest.approx(result.val_loss, rel=0.02)  # the 2% criterion
    assert mixed.val_loss != result.val_loss  # the steps did run in another arithmetic


def test_a_training_window_before_the_prices_is_one_line(sample_prices, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from shared.errors import DataError
    from trainer.walkforward import train_bundle

    first = sample_prices["date"][0]
    with pytest.raises(DataError, match=r"training window 2009-01-01 \.\. 2010-12-31 ends before"):
        train_bundle(sample_prices, SETTINGS, dt.date(2009, 1, 1), dt.date(2010, 12, 31), tmp_path)
    assert first > dt.date(2010, 12, 31) and not list(tmp_path.iterdir())
