"""The one exception type for user mistakes.

A :class:`DeepQuantError` is bad input (a file, a ticker, a date, a setting):
the CLI prints its message on one line and exits with status 2. Anything else
escaping a command is a bug and exits with status 1.
"""


class DeepQuantError(Exception):
    """A user-facing error whose message names the problem."""


class ConfigError(DeepQuantError):
    """A configuration file or setting is invalid."""


class DataError(DeepQuantError):
    """Price data is missing, malformed or insufficient."""


class BundleError(DeepQuantError):
    """A model bundle is missing, corrupt or incompatible."""


class EstimationError(DataError):
    """An estimate cannot be made from this date's data.

    Too few days on which every asset has a return, an asset without variance,
    moments that are not finite, an optimiser that finds no solution (no asset
    above the risk-free rate, say). An expected condition of real data, not a
    bug: an allocation method that raises it falls back to the next one, and
    a backtest decision that raises it keeps the previous weights, saying so.
    """
