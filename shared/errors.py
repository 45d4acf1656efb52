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
