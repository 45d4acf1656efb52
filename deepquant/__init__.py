"""deepquant: regime-aware multi-asset allocation, as a command line and a Python library.

The Python API (:mod:`deepquant.api`) runs the command line's steps as
functions that return data::

    import deepquant as dq

    settings = dq.load_config("configs/sample.toml")
    data = dq.load_prices(settings)
    bundles = dq.train(data, settings, "models", retrain_every=12)
    decision = dq.decide(data, "models", settings)
    result = dq.backtest(data, "models", settings, start, end)
    report = dq.report_data(result, data, settings)  # the report's numbers, no files

The command group is :mod:`deepquant.cli` (``deepquant --help``).
"""

from deepquant.api import *  # noqa: F403  (the API is deepquant.api.__all__)
from deepquant.api import __all__ as __all__
