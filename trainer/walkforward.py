"""From prices to bundles: one training period, or a walk-forward series of them.

One bundle (:func:`train_bundle`)
    Features are computed from prices up to ``end`` only. The period's days
    (window END days in ``[start, end]``) are split in time: the first
    ``1 - val_fraction`` train, the rest validate, never a random split. The
    first ``window - 1`` end days after the split are dropped so that no
    validation window shares a day with a training window. The scaler is fit
    on feature values dated in the training part only.

Walk-forward (:func:`train_walk_forward`)
    Retrain dates ``start, start + k months, ...`` up to ``end``. The bundle of
    retrain date ``D`` lives in ``out_dir/<D>/`` and is trained on the trailing
    ``train_years`` ending the day BEFORE ``D``, so its training end is strictly
    before ``D`` and :func:`shared.bundle.find_bundle` may use it from ``D`` on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from inferer.embed import Embedder
from shared.bundle import Bundle
from shared.config import Settings, TrainSettings
from shared.dates import add_months, years_before
from shared.errors import DataError
from shared.features import FeatureCube, compute_features
from shared.regime import History, fit_regime, fit_span, regime_history
from shared.regime.embedded import embed_history
from shared.scaling import Scaler
from shared.windows import training_windows
from trainer.export import write_bundle
from trainer.members import fit_members
from trainer.train import FitResult

log = logging.getLogger("deepquant.train")

#: Fewer training windows than this is not a training set.
MIN_TRAIN_WINDOWS = 64


def retrain_dates(start: dt.date, end: dt.date, every_months: int) -> list[dt.date]:
    """``start``, ``start + every_months``, ... while not after ``end``."""
    if every_months <= 0:
        raise ValueError(f"every_months must be positive, got {every_months}")
    dates, k = [], 0
    while (day := add_months(start, k * every_months)) <= end:
        dates.append(day)
        k += 1
    return dates


@dataclass(frozen=True)
class SplitWindows:
    """Scaled, time-split training and validation windows of one period."""

    train: np.ndarray
    val: np.ndarray
    scaler: Scaler
    #: First and last window end day of the period, the last training end day,
    #: and the first validation end day.
    start: dt.date
    end: dt.date
    train_end: dt.date
    val_start: dt.date


def _day(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value.astype("datetime64[D]")))


def split_windows(
    cube: FeatureCube, settings: Settings, start: dt.date | None, end: dt.date | None
) -> SplitWindows:
    """Time-ordered train/validation windows of ``[start, end]``, scaled on the train part.

    Raises
    ------
    DataError
        The period holds too few days or windows for a training and a validation part.
    """
    window, ts = settings.features.window, settings.train
    lo = np.datetime64(start, "D") if start else cube.dates[0]
    hi = np.datetime64(end, "D") if end else cube.dates[-1]
    days = cube.dates[(cube.dates >= lo) & (cube.dates <= hi)]
    split = int(len(days) * (1 - ts.val_fraction))
    # Validation windows start after the last training day: skip window - 1 end days.
    val_first = split - 1 + window
    if split < 1 or val_first >= len(days):
        raise DataError(
            f"training period {start} .. {end} has {len(days)} days: too short to hold out "
            f"{ts.val_fraction:.0%} for validation plus a {window}-day gap"
        )
    p_start, p_end = _day(days[0]), _day(days[-1])
    train_end, val_start = _day(days[split - 1]), _day(days[val_first])
    scaler = Scaler.fit(cube, p_start, train_end, settings.features.clip)
    cap = ts.max_windows or None
    train = training_windows(
        cube, window, p_start, train_end, stride=ts.stride, scaler=scaler,
        limit=cap and cap * ts.epochs, seed=ts.seed,
    )  # fmt: skip
    val = training_windows(
        cube, window, val_start, p_end, stride=ts.stride, scaler=scaler, limit=cap, seed=ts.seed
    )
    if len(train) < MIN_TRAIN_WINDOWS or len(val) == 0:
        raise DataError(
            f"training period {p_start} .. {p_end}: {len(train)} training and {len(val)} "
            f"validation windows with complete features (need >= {MIN_TRAIN_WINDOWS} and >= 1)"
        )
    return SplitWindows(train, val, scaler, p_start, p_end, train_end, val_start)


def _tickers(universe: Any, cube: FeatureCube) -> tuple[str, ...]:
    if universe is None:
        return cube.tickers
    return tuple(getattr(universe, "tickers", universe))


def train_bundle(
    prices: pl.DataFrame,
    settings: Settings,
    start: dt.date | None,
    end: dt.date | None,
    out_dir: str | Path,
    universe: Sequence[str] | Any = None,
    history: History | None = None,
    members_as_tasks: bool = False,
) -> Path:
    """Train one model on window end days in ``[start, end]`` and write its bundle to ``out_dir``.

    Parameters
    ----------
    prices : polars.DataFrame
        Cleaned wide prices (``date`` + one column per ticker). Rows after ``end``
        are ignored; rows before ``start`` serve as indicator warm-up only.
    settings : Settings
        Features, model and train sections are used.
    start, end : date or None
        Period bounds; ``None`` means the first / last price date.
    out_dir : path
        The bundle folder to write (replaced whole if it exists).
    universe : sequence of str or Universe, optional
        Tickers to record in the manifest (default: the price columns).
    history : History, optional
        The benchmark's closes the regime model is fitted on, with ``[regime]``
        on (:func:`shared.regime.load_history`); default: ``[regime] history``'s
        file, else the panel's benchmark.
    members_as_tasks : bool
        Fit a seed ensemble's members as Ray tasks of their own
        (:mod:`trainer.members`); the caller runs inside Ray with cores to spare.

    Returns
    -------
    Path
        ``out_dir``.
    """
    if end is not None:
        prices = prices.filter(pl.col("date") <= end)
    if prices.height < 2:
        raise DataError(
            f"training window {start or 'start'} .. {end} ends before the prices begin "
            f"([data] start {settings.data.start}): start later, or load earlier prices"
        )
    cube = compute_features(prices, settings.features)
    data = split_windows(cube, settings, start, end)
    history = _regime_history(history, prices, settings, data.end)
    log.info(
        "training %s .. %s: %d train windows (to %s), %d validation windows (from %s)",
        data.start,
        data.end,
        len(data.train),
        data.train_end,
        len(data.val),
        data.val_start,
    )
    trains = _member_settings(settings.train)
    result, *others = fit_members(
        data.train, data.val, settings.model, trains, Path(out_dir), members_as_tasks
    )
    members = [
        (r.model.encoder, t.seed, r.losses()) for r, t in zip(others, trains[1:], strict=True)
    ]
    bundle = write_bundle(
        out_dir,
        result.model.encoder,
        features=settings.features,
        scaler=data.scaler,
        train_start=data.start,
        train_end=data.end,
        universe=_tickers(universe, cube),
        losses=result.losses(),
        latent=settings.model.latent,
        settings={
            "model": settings.model.model_dump(mode="json"),
            "train": settings.train.model_dump(mode="json"),
        },
        sample=data.val[:: max(1, len(data.val) // 300)][:300],
        extra=_record(result, data),
        regime=None if history is None else partial(_fit_regime, history, settings, data.end),
        members=members,
    )
    log.info(
        "wrote %s: val loss %.4f vs naive %.4f", bundle.path, result.val_loss, result.naive_val
    )
    return bundle.path


def _member_settings(train: TrainSettings) -> list[TrainSettings]:
    """The training settings of each model of a seed ensemble (one for ``seeds = 1``)."""
    return [train.model_copy(update={"seed": train.seed + k}) for k in range(train.seeds)]


def _regime_history(
    history: History | None, prices: pl.DataFrame, settings: Settings, end: dt.date
) -> History | None:
    """What the bundle's regime model learns from (None with the layer off), checked now:
    a history too short for it stops the run before the long part."""
    if not settings.regime.enabled:
        return None
    history = history or regime_history(settings, prices)
    fit_span(history, end, settings.regime)
    return history


def _fit_regime(
    history: History, settings: Settings, end: dt.date, bundle: Bundle
) -> dict[str, Any]:
    """The market-regime model ``bundle`` carries, fitted on the closes up to ``end``."""
    embedded = None
    if settings.regime.features != "returns":
        embed = Embedder(bundle, settings.inference.onnx_threads).embed
        window = {"window": bundle.manifest.window, "scaler": bundle.manifest.scaler}
        embedded = embed_history(history, settings.features, window, embed)
    encoder = bundle.encoder_key
    model = fit_regime(history, end, settings.regime, embedded, encoder)
    log.info(
        "regime model: %s fitted on the benchmark's closes %s .. %s", model.kind, model.start, end
    )
    return model.to_dict()


def _record(result: FitResult, data: SplitWindows) -> dict[str, Any]:
    return {
        "n_train_windows": result.n_train,
        "n_val_windows": result.n_val,
        "split": {"train_end": data.train_end.isoformat(), "val_start": data.val_start.isoformat()},
        "history": result.history,
        "windows_per_s": result.windows_per_s,
        "wall_s": result.wall_s,
        "device": result.device,
        "stopped": result.stopped,
    }


@dataclass(frozen=True)
class Period:
    """One bundle of a walk-forward series: its retrain date and its training days."""

    day: dt.date
    first: dt.date
    last: dt.date


def series_periods(
    start: dt.date, end: dt.date, every_months: int, train_years: float
) -> list[Period]:
    """The bundles of a series: each retrain date and the ``train_years`` before it."""
    return [
        Period(day, years_before(day, train_years), day - dt.timedelta(days=1))
        for day in retrain_dates(start, end, every_months)
    ]


def train_walk_forward(
    prices: pl.DataFrame,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    every_months: int,
    out_dir: str | Path,
    history: History | None = None,
) -> list[Path]:
    """One bundle per retrain date in ``[start, end]``, each in ``out_dir/<YYYY-MM-DD>/``.

    The bundle for date ``D`` is trained on window end days in
    ``[D - train_years, D - 1 day]``.

    Returns
    -------
    list of Path
        The bundle folders, oldest first.
    """
    out_dir = Path(out_dir)
    paths = []
    periods = series_periods(start, end, every_months, settings.train.train_years)
    for i, p in enumerate(periods, 1):
        log.info(
            "walk-forward %d/%d: bundle %s trained on %s .. %s", i, len(periods), p.day,
            p.first, p.last,
        )  # fmt: skip
        path = out_dir / p.day.isoformat()
        paths.append(train_bundle(prices, settings, p.first, p.last, path, history=history))
    return paths
