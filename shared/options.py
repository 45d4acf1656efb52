"""Click options shared by the commands, and the environment variables they read.

One option, one name everywhere: ``--config``, ``--prices``, ``--model`` (a
bundle or a folder of bundles, for every command that reads bundles),
``--out`` and ``--asof`` read the same environment variable whatever the
command (:data:`ENV`). Every other option reads
``DEEPQUANT_<COMMAND>_<OPTION>`` (click's ``auto_envvar_prefix``, with the
parameter named as its flag), e.g. ``DEEPQUANT_TRAIN_RETRAIN_EVERY``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from shared.errors import DataError

F = TypeVar("F", bound=Callable[..., Any])

#: Option -> the environment variable it reads in every command.
ENV = {
    "config": "DEEPQUANT_CONFIG",
    "prices": "DEEPQUANT_PRICES",
    "model": "DEEPQUANT_MODEL",
    "out": "DEEPQUANT_OUT",
    "asof": "DEEPQUANT_ASOF",
    "regime_history": "DEEPQUANT_REGIME_HISTORY",
}
#: Prefix of every other option's environment variable.
ENV_PREFIX = "DEEPQUANT"


class DateType(click.ParamType):
    """An ISO date (YYYY-MM-DD) option value."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateType()


def config_option(f: F) -> F:
    return click.option(
        "--config",
        required=True,
        envvar=ENV["config"],
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"TOML configuration file (see configs/). Env: {ENV['config']}.",
    )(f)


def prices_option(f: F) -> F:
    return click.option(
        "--prices",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=ENV["prices"],
        help="Wide price panel (CSV, CSV.gz or parquet); its columns are the universe. "
        f"Env: {ENV['prices']}.",
    )(f)


def regime_history_option(f: F) -> F:
    return click.option(
        "--regime-history",
        "regime_history",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=ENV["regime_history"],
        help="The benchmark's daily closes since long ago (CSV: date and the benchmark), "
        "for the regime layer; overrides [regime] history. Without either, prices from "
        f"Yahoo fetch it, a --prices file serves its own. Env: {ENV['regime_history']}.",
    )(f)


def model_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--model",
        required=True,
        envvar=ENV["model"],
        type=click.Path(path_type=Path),
        help=f"{help} Env: {ENV['model']}.",
    )


def out_option(help: str, *, file_okay: bool = True) -> Callable[[F], F]:
    return click.option(
        "--out",
        required=True,
        envvar=ENV["out"],
        type=click.Path(file_okay=file_okay, path_type=Path),
        help=f"{help} Env: {ENV['out']}.",
    )


def asof_option(f: F) -> F:
    return click.option(
        "--asof",
        type=DATE,
        default=None,
        envvar=ENV["asof"],
        help=f"Decision date (default: the last date with prices). Env: {ENV['asof']}.",
    )(f)


def ray_address_option(f: F) -> F:
    """``--address``: the Ray cluster tasks run on; without it, Ray in this process."""
    return click.option(
        "--address",
        default=None,
        help="A Ray cluster: `auto` or ray://HOST:PORT (default: Ray in this process, "
        "on this machine's cores).",
    )(f)


@contextmanager
def naming(flag: str) -> Iterator[None]:
    """Put ``flag`` before the message of a :class:`DataError` raised inside.

    Library functions name the data (a file, a date, an amount); the command
    that read it from an option says which option, so the user sees
    ``--holdings h.csv: file not found`` while a Python caller sees
    ``h.csv: file not found``.
    """
    try:
        yield
    except DataError as err:
        raise type(err)(f"{flag} {err}") from None
