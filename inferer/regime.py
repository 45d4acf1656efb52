"""The regime layer: read the market's state on a date, and move the risky book by it.

One code path for the live job and the backtest: :func:`inferer.pipeline.decide_asof`
reads the state (:meth:`Regimes.read`) and applies :func:`overlay` to the
book it constructed; the backtest applies the same :func:`overlay` on the
days a change of state trades between rebalances.

In the stressed state, ``[regime] fraction`` of every risky weight moves to
the risk-free proxy (uninvested cash when the proxy is a rate, not a
ticker); with ``exposure = "probability"`` the move is that fraction times
the probability of stress, in steps of 1/4 so that noise in a probability
does not trade every day.

A bundle carries the model fitted with it (``manifest.regime``); when its
settings are not the run's (a bundle trained with the layer off, or another
penalty), the run fits the model the same way on the same span, and says so.
With ``[regime] features`` reading the autoencoder, the bundle's encoder
embeds the benchmark's window of every day of the history
(:mod:`shared.regime.embedded`) through the run's sessions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferer.run import Run
from shared.bundle import Bundle
from shared.config import RegimeSettings, Settings
from shared.errors import DataError
from shared.regime import History, RegimeModel, fit_key, fit_regime
from shared.regime.embedded import embed_history

__all__ = ["STEPS", "Reading", "Regimes", "exposure_of", "overlay"]

log = logging.getLogger("deepquant.regime")

#: A graded exposure moves in steps of 1 / STEPS.
STEPS = 4
#: A history whose last close is this many days before the date is stale.
_STALE_DAYS = 7


def exposure_of(stress: npt.ArrayLike, cfg: RegimeSettings) -> np.ndarray:
    """Share of the risky book kept at each probability of stress."""
    p = np.asarray(stress, dtype=np.float64)
    level = np.round(p * STEPS) / STEPS if cfg.exposure == "probability" else (p >= 0.5) * 1.0
    return 1.0 - cfg.fraction * level


def overlay(
    weights: Mapping[str, float], exposure: float, risk_free: float | str, columns: Sequence[str]
) -> dict[str, float]:
    """``weights`` with ``1 - exposure`` of every risky weight moved to the risk-free proxy.

    The proxy is the risk-free ticker when it is a price column; otherwise
    the moved weight is left in cash (the weights sum to less than 1).
    """
    proxy = risk_free if isinstance(risk_free, str) and risk_free in columns else None
    out = {t: w * exposure for t, w in weights.items() if t != proxy}
    moved = sum(w for t, w in weights.items() if t != proxy) * (1.0 - exposure)
    if proxy is not None and (moved > 1e-12 or proxy in weights):
        out[proxy] = weights.get(proxy, 0.0) + moved
    return dict(sorted(((t, w) for t, w in out.items() if w > 0), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Reading:
    """The regime on one date, as the run JSON and ``rebalances.csv`` report it."""

    asof: dt.date
    model: str
    stress: float
    stressed: bool
    exposure: float
    since: dt.date
    days: int

    def to_dict(self) -> dict[str, Any]:
        """JSON: dates in ISO form."""
        data = asdict(self)
        data["asof"], data["since"] = self.asof.isoformat(), self.since.isoformat()
        return data


class Regimes:
    """The run's regime model of each bundle, and each one's stress over the whole history.

    A day's stress reads closes up to that day only, so one pass over the
    history serves every date (tested against a history cut at the date).
    """

    def __init__(self, history: History, settings: Settings, run: Run | None = None) -> None:
        self.history = history
        self.cfg: RegimeSettings = settings.regime
        self._features = settings.features
        self._run = run if run is not None else Run(settings.inference.onnx_threads)
        self._models: dict[Path, RegimeModel] = {}
        self._stress: dict[Path, np.ndarray] = {}
        self._embedded: dict[Path, np.ndarray | None] = {}

    def embedded(self, bundle: Bundle) -> np.ndarray | None:
        """The bundle's embedding of each day's benchmark window (None: the model reads none)."""
        if self.cfg.features == "returns":
            return None
        if bundle.path not in self._embedded:
            manifest = {"window": bundle.manifest.window, "scaler": bundle.manifest.scaler}
            self._embedded[bundle.path] = embed_history(
                self.history, self._features, manifest, lambda w: self._run.embed(bundle, w)
            )
        return self._embedded[bundle.path]

    def model_for(self, bundle: Bundle) -> RegimeModel:
        """The bundle's model when fitted with these settings, else the same fit made now."""
        if bundle.path not in self._models:
            end, encoder = bundle.manifest.train_end_date, bundle.encoder_key
            carried = bundle.manifest.regime
            if carried and carried.get("key") == fit_key(end, self.cfg, encoder):
                model = RegimeModel.from_dict(carried)
            else:
                # The trend rule has nothing to fit: no news when a bundle lacks it.
                (log.debug if self.cfg.model == "trend" else log.info)(
                    "bundle %s carries no %s regime model with these settings: fitted on "
                    "%s up to %s", bundle.path.name, self.cfg.model, self.history.source, end,
                )  # fmt: skip
                model = fit_regime(self.history, end, self.cfg, self.embedded(bundle), encoder)
            self._models[bundle.path] = model
        return self._models[bundle.path]

    def stress(self, bundle: Bundle) -> np.ndarray:
        """Stress of every day of the history under the bundle's model (NaN before its start)."""
        if bundle.path not in self._stress:
            model = self.model_for(bundle)
            self._stress[bundle.path] = model.stress(self.history, self.embedded(bundle))
        return self._stress[bundle.path]

    def _index(self, day: dt.date) -> int:
        i = self.history.upto(day)
        if i < 0 or (day - self.history.dates[i].item()).days > _STALE_DAYS:
            last = self.history.dates[i].item() if i >= 0 else None
            raise DataError(
                f"regime: the benchmark's history ({self.history.source}) has no close in the "
                f"week up to {day} (its last before it: {last})"
            )
        return i

    def read(self, bundle: Bundle, day: dt.date) -> Reading:
        """The regime on ``day`` from closes up to ``day``."""
        i = self._index(day)
        stress = self.stress(bundle)
        if np.isnan(stress[i]):
            raise DataError(f"regime: the model of bundle {bundle.path.name} starts after {day}")
        stressed = stress[: i + 1] >= 0.5
        valid = ~np.isnan(stress[: i + 1])
        changed = np.flatnonzero((stressed != stressed[i]) & valid)
        first = int(changed[-1]) + 1 if changed.size else int(np.argmax(valid))
        return Reading(
            asof=self.history.dates[i].item(),
            model=self.cfg.model,
            stress=float(stress[i]),
            stressed=bool(stressed[i]),
            exposure=float(exposure_of(stress[i], self.cfg)),
            since=self.history.dates[first].item(),
            days=i - first + 1,
        )

    def stress_on(self, bundle: Bundle, days: Sequence[dt.date]) -> np.ndarray:
        """Probability of stress on each of ``days``, each from closes up to it."""
        idx = np.array([self._index(d) for d in days], dtype=np.int64)
        return self.stress(bundle)[idx]

    def exposures(self, bundle: Bundle, days: Sequence[dt.date]) -> np.ndarray:
        """Share of the risky book kept on each of ``days``."""
        return exposure_of(self.stress_on(bundle, days), self.cfg)
