"""A fitted regime model as a bundle carries it, and the walk-forward fit that makes it.

:func:`fit_regime` fits the model of ``[regime] model`` on the benchmark's
closes over the ``train_years`` up to a bundle's last training day; a
:class:`RegimeModel` is what the bundle's manifest records (kind, the fitted
numbers, the span, and a key of what it was fitted from) and what the cron
job reads with NumPy. Its online read starts at the first day of its
training window, every time, so the live job and the backtest see the same
sequence; each day's reading uses closes up to that day only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shared.config import RegimeSettings
from shared.dates import years_before
from shared.errors import DataError
from shared.regime.embedded import Projection, fit_projection
from shared.regime.features import market_features
from shared.regime.history import History
from shared.regime.hmm import GaussianHMM, fit_hmm
from shared.regime.jump import JumpModel, fit_jump_model
from shared.regime.trend import TrendRule

__all__ = ["RegimeModel", "fit_key", "fit_regime", "fit_span"]

FloatArray = npt.NDArray[np.float64]

#: A history may start this many days after the span's first day (weekends, holidays).
_SLACK_DAYS = 7


class _Fitted(Protocol):
    def params(self) -> dict[str, Any]: ...


def _of_returns(closes: FloatArray) -> FloatArray:
    return closes[1:] / closes[:-1] - 1.0


def _features(
    kind: str, returns: FloatArray, embedded: FloatArray | None, projection: Projection | None
) -> FloatArray:
    """What a model reads on each day of ``returns``: ``[regime] features``' columns.

    ``embedded`` has a row per close, one more than ``returns``: day ``t``'s
    return ends at close ``t + 1``.
    """
    if kind == "returns":
        return market_features(returns)
    if embedded is None or projection is None:
        raise ValueError(f"features = {kind!r} need the bundle's embeddings of the benchmark")
    coords = projection(embedded[1:])
    return coords if kind == "autoencoder" else np.hstack([market_features(returns), coords])


@dataclass(frozen=True)
class RegimeModel:
    """A regime model fitted on the benchmark's closes from ``start`` to ``end``."""

    kind: str
    start: dt.date
    end: dt.date
    key: str
    params: dict[str, Any]

    def stress(self, history: History, embedded: FloatArray | None = None) -> FloatArray:
        """Probability of stress on each day of ``history`` from :attr:`start` (NaN before).

        Day ``t``'s value reads closes from :attr:`start` to ``t`` only, and
        ``embedded`` (:func:`shared.regime.embedded.embed_history`, one row a
        close) where the model reads the autoencoder's features.
        """
        out = np.full(history.closes.size, np.nan)
        if not history.dates.size or (history.dates[0].item() - self.start).days > _SLACK_DAYS:
            begins = history.dates[0].item() if history.dates.size else None
            raise DataError(
                f"the {self.kind} regime model fitted up to {self.end} reads the benchmark's "
                f"closes from {self.start}; {history.source} starts {begins}"
            )
        first = int(np.searchsorted(history.dates, np.datetime64(self.start, "D")))
        closes = history.closes[first:]
        if closes.size < 2:
            return out
        if self.kind == "trend":
            out[first:] = TrendRule.from_params(self.params).stress_of_closes(closes)
            return out
        model = (JumpModel if self.kind == "jump" else GaussianHMM).from_params(self.params)
        pca = self.params.get("projection")
        features = _features(
            self.params.get("features", "returns"),
            _of_returns(closes),
            None if embedded is None else embedded[first:],
            None if pca is None else Projection.from_params(pca),
        )
        out[first] = 0.0  # the first close has no return: read as calm
        out[first + 1 :] = model.stress(features)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON for the bundle's manifest."""
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "key": self.key,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegimeModel:
        """The model :meth:`to_dict` wrote."""
        return cls(
            str(data["kind"]),
            dt.date.fromisoformat(data["start"]),
            dt.date.fromisoformat(data["end"]),
            str(data["key"]),
            dict(data["params"]),
        )


def fit_span(history: History, end: dt.date, cfg: RegimeSettings) -> tuple[int, int]:
    """Index range ``[first, last]`` of the closes a fit up to ``end`` reads.

    Raises
    ------
    DataError
        The history does not reach back ``train_years`` before ``end``.
    """
    need = years_before(end, cfg.train_years)
    first_day = history.dates[0].item() if history.dates.size else None
    if first_day is None or (first_day - need).days > _SLACK_DAYS:
        raise DataError(
            f"regime model for {end} needs the benchmark's closes from {need} "
            f"([regime] train_years = {cfg.train_years:g}); {history.source} starts "
            f"{first_day}: name a longer history in [regime] history, or shorten train_years"
        )
    first = int(np.searchsorted(history.dates, np.datetime64(need, "D")))
    last = int(np.searchsorted(history.dates, np.datetime64(end, "D"), side="right")) - 1
    return first, last


def fit_key(end: dt.date, cfg: RegimeSettings, encoder: str = "") -> str:
    """What a fit up to ``end`` is asked for: the settings that shape it, ``end``, and
    the sha256 of the encoder whose embeddings it reads (none for return features).

    The closes are not in it: Yahoo revises adjusted closes, and a bundle's
    model is the one fitted when the bundle was, not a refit on revised data.
    """
    fit_settings = cfg.model_dump(
        mode="json", exclude={"exposure", "fraction", "timing", "history"}
    )
    reads = encoder if cfg.features != "returns" else ""
    text = json.dumps([fit_settings, end.isoformat(), reads])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_regime(
    history: History,
    end: dt.date,
    cfg: RegimeSettings,
    embedded: FloatArray | None = None,
    encoder: str = "",
) -> RegimeModel:
    """Fit ``cfg.model`` on the benchmark's closes of the ``train_years`` up to ``end``.

    With ``[regime] features`` other than "returns", ``embedded`` holds the
    encoder's embedding of each close's window
    (:func:`shared.regime.embedded.embed_history`) and ``encoder`` its sha256.
    """
    if not cfg.enabled:
        raise ValueError("[regime] model is 'none': there is nothing to fit")
    first, last = fit_span(history, end, cfg)
    closes = history.closes[first : last + 1]
    if closes.size < 250:
        raise DataError(
            f"regime model for {end}: only {closes.size} closes of the benchmark in its "
            "training span; it needs a year at least"
        )
    start, key = history.dates[first].item(), fit_key(end, cfg, encoder)
    if cfg.model == "trend":
        return RegimeModel(cfg.model, start, end, key, TrendRule(cfg.trend_days).params())
    window = None if embedded is None else embedded[first : last + 1]
    projection = None if window is None else fit_projection(window)
    r = _of_returns(closes)
    x = _features(cfg.features, r, window, projection)
    fitted: _Fitted
    if cfg.model == "jump":
        fitted = fit_jump_model(x, r, n_states=cfg.n_states, penalty=cfg.penalty, seed=cfg.seed)
    else:
        fitted = fit_hmm(x, r, n_states=cfg.n_states, seed=cfg.seed)
    params = {**fitted.params(), "features": cfg.features}
    if projection is not None and cfg.features != "returns":
        params["projection"] = projection.params()
    return RegimeModel(cfg.model, start, end, key, params)
