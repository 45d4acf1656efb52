"""Click options and helpers shared by the commands of both containers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "config_path",
        required=True,
        envvar="DEEPQUANT_CONFIG",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML configuration file (see configs/). Env: DEEPQUANT_CONFIG.",
    )(f)


def prices_option(f: F) -> F:
    return click.option(
        "--prices",
        "prices_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="DEEPQUANT_PRICES",
        help="Wide price panel (CSV, CSV.gz or parquet); its columns are the universe.",
    )(f)


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
