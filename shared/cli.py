"""The ``deepquant`` command group.

Subcommands are named by dotted path and imported only when invoked (click's
lazy-loading group pattern), so ``deepquant infer`` never imports torch and
``deepquant --help`` stays fast. A :class:`~shared.errors.DeepQuantError`
(bad input) prints one line and exits with status 2; any other exception is a
bug and exits with status 1 and a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from shared.errors import DeepQuantError

EXIT_BAD_INPUT = 2

#: name -> (dotted path, one-line help shown by --help without importing the command).
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch": ("shared.commands:fetch", "Download the universe from Yahoo into the cache."),
    "data": ("shared.commands:data", "Load prices, build features and windows, summarise."),
    "train": ("trainer.cli:train", "Train the autoencoder and export ONNX bundles."),
    "infer": ("inferer.cli:infer", "Embed, cluster, select, allocate; write weight CSVs."),
    "backtest": ("inferer.cli:backtest", "Walk-forward backtest against SPY and baselines."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        module_name, attr = self.lazy_subcommands[cmd_name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            # e.g. `train` in the inference image, which has no torch.
            raise click.ClickException(
                f"command {cmd_name!r} is not available in this installation ({err})"
            ) from None
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Static help text: listing commands must not import torch or onnxruntime.
        rows = [(name, self.lazy_subcommands[name][1]) for name in sorted(self.lazy_subcommands)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeepQuantError as err:
            click.echo(f"deepquant: error: {err}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS)
@click.version_option(package_name="deepquant")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def cli(verbose: int, quiet: bool) -> None:
    """deepquant: regime-aware multi-asset allocation."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Third-party loggers stay at warning unless -vv.
    for name in ("yfinance", "matplotlib", "urllib3", "peewee"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def main() -> None:
    """Console-script entry point.

    Options can also come from the environment, for containers and batch jobs:
    ``DEEPQUANT_CONFIG``, ``DEEPQUANT_PRICES`` (every command), and for
    ``infer`` ``DEEPQUANT_MODEL``, ``DEEPQUANT_OUT``, ``DEEPQUANT_ASOF``; any
    other option as ``DEEPQUANT_<COMMAND>_<PARAMETER>``. A command-line option
    wins over the environment.
    """
    cli(prog_name="deepquant", auto_envvar_prefix="DEEPQUANT")
