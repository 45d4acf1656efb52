"""Market regimes over time, read online: models, their features, fitting and the long history.

- :mod:`shared.regime.features`: the benchmark's return features.
- :mod:`shared.regime.jump`: the statistical jump model.
- :mod:`shared.regime.hmm`: a Gaussian HMM read with its forward filter.
- :mod:`shared.regime.trend`: the trend rule, the baseline.
- :mod:`shared.regime.history`: the benchmark's closes since long ago.
- :mod:`shared.regime.model`: a fitted model as a bundle carries it, and the fit.

NumPy and SciPy only: the cron image reads a fitted model with them.
"""

from shared.regime.features import HALFLIVES, market_features
from shared.regime.history import (
    History,
    history_of_file,
    history_of_prices,
    history_of_yahoo,
    load_history,
    regime_history,
)
from shared.regime.hmm import GaussianHMM, filtered, fit_hmm
from shared.regime.jump import JumpModel, best_states, fit_jump_model, online_states
from shared.regime.model import RegimeModel, fit_key, fit_regime, fit_span
from shared.regime.trend import TrendRule

__all__ = [
    "HALFLIVES",
    "GaussianHMM",
    "History",
    "JumpModel",
    "RegimeModel",
    "TrendRule",
    "best_states",
    "filtered",
    "fit_hmm",
    "fit_jump_model",
    "fit_key",
    "fit_regime",
    "fit_span",
    "history_of_file",
    "history_of_prices",
    "history_of_yahoo",
    "load_history",
    "market_features",
    "online_states",
    "regime_history",
]
