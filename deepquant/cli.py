"""The ``deepquant`` command group.

Subcommands are named by dotted path and imported only when invoked (click's
lazy-loading group pattern), so ``deepquant infer`` never imports torch and
``deepquant --help`` stays fast. A :class:`~shared.errors.DeepQuantError`
(bad input) or a usage error (a missing option, a bad value) prints one line
and exits with status 2; any other exception is a bug and exits with status 1
and a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import sys
import warnings
from typing import Any, NamedTuple

import click

from shared.errors import DeepQuantError
from shared.options import ENV_PREFIX

EXIT_BAD_INPUT = 2


class Command(NamedTuple):
    """A subcommand: where it lives, its one-line help, and what it needs installed."""

    path: str
    help: str
    needs: tuple[str, ...]


#: Subcommands, named by dotted path; an image lists only those whose packages it holds.
COMMANDS: dict[str, Command] = {
    "fetch": Command(
        "deepquant.commands:fetch", "Download the universe from Yahoo into the cache.", ()
    ),
    "data": Command(
        "deepquant.commands:data", "Load prices, build features and windows, summarise.", ()
    ),
    "train": Command(
        "trainer.cli:train", "Train the autoencoder and export ONNX bundles.", ("trainer", "torch")
    ),
    "infer": Command(
        "inferer.cli:infer",
        "Embed, cluster, select, allocate; write weight CSVs.",
        ("inferer", "onnxruntime"),
    ),
    "backtest": Command(
        "backtest.cli:backtest",
        "Walk-forward backtest against SPY and baselines.",
        ("backtest", "inferer", "onnxruntime", "matplotlib"),
    ),
    "report": Command(
        "backtest.cli:report_command",
        "Draw a backtest folder's charts and report from its files.",
        ("backtest", "matplotlib"),
    ),
    "sweep": Command(
        "sweep.cli:sweep",
        "A grid of variants x seeds x costs, trained and backtested on Ray.",
        ("sweep", "trainer", "torch", "backtest", "matplotlib", "ray"),
    ),
}


def _missing(command: Command) -> list[str]:
    # find_spec locates a top-level package without importing it: --help stays fast.
    return [name for name in command.needs if importlib.util.find_spec(name) is None]


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, Command] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def _available(self) -> list[str]:
        return sorted(n for n, c in self.lazy_subcommands.items() if not _missing(c))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._available()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        spec = self.lazy_subcommands[cmd_name]
        missing = _missing(spec)
        if missing:
            # e.g. `train` in the inference image, which has neither trainer nor torch.
            raise DeepQuantError(
                f"command {cmd_name!r} is not available in this installation "
                f"(missing: {', '.join(missing)})"
            )
        module_name, attr = spec.path.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise click.ClickException(
                f"command {cmd_name!r} is not available in this installation ({err})"
            ) from None
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Static help text: listing commands must not import torch or onnxruntime.
        rows = [(name, self.lazy_subcommands[name].help) for name in self._available()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeepQuantError as err:
            click.echo(f"deepquant: error: {err}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for cloud log pipelines."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


#: Module names that are not deepquant's (a regex for ``warnings.filterwarnings``).
_NOT_OURS = r"(?!(deepquant|shared|inferer|trainer|backtest|sweep)(\.|$))"


def configure_logging(verbose: int, quiet: bool, log_format: str) -> None:
    """deepquant's loggers at info (-q: errors only; -v: debug), third parties at warning.

    ``-vv`` lets third-party debug output and deprecation warnings through;
    otherwise a library's deprecation warning is the library's business, not
    the user's, and never reaches the screen.
    """
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)
    own = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("deepquant").setLevel(own)
    logging.captureWarnings(True)
    if verbose < 2:
        # A library's warnings (pandas deprecations inside yfinance, ...) are its
        # business, not the user's; our own modules' warnings still show.
        warnings.filterwarnings("ignore", module=_NOT_OURS)
        # yfinance logs each failed download itself, over several lines; the
        # fetch report says the same in one.
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    if quiet:
        logging.getLogger("py.warnings").setLevel(logging.ERROR)


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS)
@click.version_option(package_name="deepquant")
@click.option("-v", "--verbose", count=True, help="-v: debug detail; -vv: libraries' too.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors (no progress, no info).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line.",
)
def cli(verbose: int, quiet: bool, log_format: str) -> None:
    """deepquant: regime-aware multi-asset allocation."""
    configure_logging(verbose, quiet, log_format)


def _one_line(err: click.ClickException) -> str:
    """A click error as one line: the message and where to find the usage."""
    message = " ".join(err.format_message().split())
    ctx = getattr(err, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"deepquant: error: {message}{where}"


def main() -> None:
    """Console-script entry point.

    Options can also come from the environment, for containers and batch jobs
    (:mod:`shared.options`): ``DEEPQUANT_CONFIG``, ``DEEPQUANT_PRICES``,
    ``DEEPQUANT_MODEL``, ``DEEPQUANT_OUT`` and ``DEEPQUANT_ASOF`` in every
    command that has the option, any other option as
    ``DEEPQUANT_<COMMAND>_<OPTION>``. A command-line option wins over the
    environment.
    """
    try:
        code = cli.main(prog_name="deepquant", auto_envvar_prefix=ENV_PREFIX, standalone_mode=False)
    except DeepQuantError as err:  # raised before a command runs (resolving it, say)
        click.echo(f"deepquant: error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as err:
        # Usage errors (a missing option, a bad value) are bad input like any other:
        # one line and status 2, instead of click's three-line usage block.
        click.echo(_one_line(err), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.Abort:
        click.echo("deepquant: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
