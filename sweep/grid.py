"""The grid file: named variants of a base config, times seeds and cost levels.

.. code-block:: toml

    seeds = [0, 1]            # [train] seed of each model series
    cost_bps = [10.0]         # [backtest] cost_bps levels

    [period]
    train_start = 2017-01-01  # first retrain date
    retrain_every = 12        # months between retrain dates
    start = 2017-01-01        # backtest start and end
    end = 2022-12-28

    [variants.hrp]            # the base config as it is

    [variants.top2]
    inference.top_n = 2       # dotted keys override the base config

A pre-registered protocol adds the rule that selects a variant and the
held-out period it is then run on, once (:mod:`sweep.selection`):

.. code-block:: toml

    [selection]
    baseline = "hrp"          # the variant whose settings count as unchanged
    max_turnover = 1.5        # one-way a year
    relaxed_turnover = 3.0    # the bound's first relaxation
    drawdown_of = "equal_weight"
    drawdown_ratio = 0.6667   # max drawdown at most this part of that series'
    tie = 0.01                # Sharpe ratios this close tie (every key is required)

    [holdout]
    start = 2023-01-01
    end = 2026-07-31
    seeds = [0, 1, 2]
    cost_bps = [10.0, 25.0]

    [holdout.ablations.no_regime]
    regime.model = "none"     # the selected variant with these settings too

Every variant is validated against the config schema before anything runs,
and a bad one is named in a one-line error. Paths in a variant's settings
(``regime.history``, ...) are read against the grid file's folder.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import PATH_KEYS, Settings, parse_settings, read_raw_config, resolve_path
from shared.errors import ConfigError

__all__ = ["Grid", "Job", "load_grid"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Job:
    """One backtest of the grid: a variant's settings with one seed and one cost level."""

    variant: str
    seed: int
    cost_bps: float
    settings: Settings

    @property
    def label(self) -> str:
        """The folder name below the sweep's output: ``<variant>/<seed>`` (+ the cost)."""
        return f"{self.variant}/{self.seed}"


@dataclass(frozen=True)
class Holdout:
    """The held-out period of a protocol, its seeds and costs, and the ablations' overrides."""

    start: dt.date
    end: dt.date
    seeds: tuple[int, ...]
    cost_bps: tuple[float, ...]
    ablations: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Grid:
    """Every job of the grid, in the file's order, and the walk-forward period.

    ``overrides``: each variant's settings as the file gives them (dotted
    keys), which a selection rule counts; ``selection`` and ``holdout``: the
    protocol's tables, raw (:mod:`sweep.selection` reads them).
    """

    jobs: tuple[Job, ...]
    variants: tuple[str, ...]
    train_start: dt.date
    retrain_every: int
    start: dt.date
    end: dt.date
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    holdout: Holdout | None = None
    #: The base config (paths resolved) and the grid file, for the held-out grid.
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path = Path("grid.toml")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _override(raw: Mapping[str, Any], dotted: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``raw`` with each ``section.key = value`` of ``dotted`` set."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    for key, value in dotted.items():
        section, _, field = key.partition(".")
        if not field or "." in field:
            raise ConfigError(f"{where}: {key!r} is not a section.key override")
        out.setdefault(section, {})[field] = value
    return out


#: The keys a grid file may have, at its top and in its [period] and [holdout] tables.
GRID_KEYS = ("seeds", "cost_bps", "period", "variants", "selection", "holdout")
PERIOD_KEYS = ("train_start", "retrain_every", "start", "end")
HOLDOUT_KEYS = ("start", "end", "seeds", "cost_bps", "ablations")


def _with_paths(dotted: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """``dotted`` with relative file settings (:data:`PATH_KEYS`) read against ``folder``."""
    dotted_paths = {f"{section}.{key}" for section, keys in PATH_KEYS.items() for key in keys}
    return {
        k: resolve_path(v, folder.resolve()) if k in dotted_paths else v for k, v in dotted.items()
    }


def _unknown(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    extra = [k for k in table if k not in known]
    if extra:
        raise ConfigError(
            f"{where}: unknown key {extra[0]!r} (a grid has {', '.join(known)}; "
            "settings go in [variants.NAME] as section.key)"
        )


def _period(table: Any, path: Path) -> tuple[dt.date, int, dt.date, dt.date]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: needs a [period] table: train_start, retrain_every, start, end")
    _unknown(table, PERIOD_KEYS, f"{path}: [period]")
    try:
        values = (table["train_start"], table["retrain_every"], table["start"], table["end"])
    except KeyError as err:
        raise ConfigError(f"{path}: [period] lacks {err.args[0]!r}") from None
    train_start, every, start, end = values
    if not all(isinstance(d, dt.date) for d in (train_start, start, end)):
        raise ConfigError(f"{path}: [period] dates must be TOML dates (2017-01-01)")
    if not isinstance(every, int) or every < 1 or end <= start:
        raise ConfigError(f"{path}: [period] needs retrain_every >= 1 and end after start")
    return train_start, every, start, end


def _numbers(doc: Mapping[str, Any], key: str, default: list[Any], path: Path) -> list[Any]:
    values = doc.get(key, default)
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{path}: {key} must be a non-empty list")
    if len(set(values)) < len(values):
        # The same job twice would be one backtest counted as two trials.
        raise ConfigError(f"{path}: {key} lists a value more than once ({values})")
    return values


def _holdout(table: Any, path: Path, dev_end: dt.date, cost: float) -> Holdout | None:
    """The ``[holdout]`` table, checked: after the development period, whole seeds, costs."""
    if table is None:
        return None
    where = f"{path}: [holdout]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    _unknown(table, HOLDOUT_KEYS, where)
    start, end = table.get("start"), table.get("end")
    if not (isinstance(start, dt.date) and isinstance(end, dt.date)) or end <= start:
        raise ConfigError(f"{where} needs TOML dates start and end, end after start")
    if start <= dev_end:
        raise ConfigError(f"{where} starts {start}, within the development period (to {dev_end})")
    seeds, costs = _numbers(table, "seeds", [0], path), _numbers(table, "cost_bps", [cost], path)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 for x in costs
    ):
        raise ConfigError(f"{where} needs whole seeds and costs of 0 or more")
    ablations = table.get("ablations", {})
    if not isinstance(ablations, Mapping) or not all(
        isinstance(v, Mapping) and _NAME.match(k) for k, v in ablations.items()
    ):
        raise ConfigError(f"{where}: [holdout.ablations.NAME] tables need folder names")
    return Holdout(
        start, end, tuple(seeds), tuple(float(x) for x in costs),
        {k: _with_paths(_flatten(v), path.parent) for k, v in ablations.items()},
    )  # fmt: skip


def _check_protocol(grid: Grid) -> None:
    """A protocol's tables go together, and every ablation is valid where it would run."""
    if grid.holdout is not None and grid.selection is None:
        raise ConfigError(f"{grid.path}: [holdout] needs a [selection] rule to choose its variant")
    if "holdout" in grid.overrides:
        raise ConfigError(f"{grid.path}: a variant cannot be named 'holdout' (the held-out folder)")
    if grid.holdout is None:
        return
    seed, cost = grid.holdout.seeds[:1], grid.holdout.cost_bps[:1]
    for name, chosen in grid.overrides.items():
        for ablation, dotted in grid.holdout.ablations.items():
            if applies(grid.raw, chosen, dotted):
                merged = {f"{name}_{ablation}": {**chosen, **dotted}}
                grid_jobs(grid.raw, merged, seed, cost, grid.path)


#: Regime models fitted to data: the ones an ablation of ``regime.*`` settings applies to.
FITTED = ("jump", "hmm")


def applies(raw: Mapping[str, Any], chosen: Mapping[str, Any], dotted: Mapping[str, Any]) -> bool:
    """An ablation of ``regime.*`` settings applies where the variant has a fitted regime model."""
    if all(k.startswith("regime.") for k in dotted):
        model = chosen.get("regime.model", raw.get("regime", {}).get("model", "none"))
        return model in FITTED
    return True


def grid_jobs(
    raw: Mapping[str, Any],
    overrides: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[int],
    costs: Sequence[float],
    path: Path,
) -> list[Job]:
    """Every variant x seed x cost, validated; a variant's folder carries the cost when several."""
    jobs = []
    for name, dotted in overrides.items():
        merged = _override(raw, dotted, f"{path}: variant {name}")
        for seed in seeds:
            for cost in costs:
                run = _override(merged, {"train.seed": seed, "backtest.cost_bps": cost}, name)
                settings = parse_settings(run, f"{path} (variant {name}, seed {seed})")
                variant = name if len(costs) == 1 else f"{name}-{cost:g}bps"
                jobs.append(Job(variant, int(seed), float(cost), settings))
    return jobs


def load_grid(grid_path: str | Path, base_config: str | Path) -> Grid:
    """Read the grid and the base config; every job's settings, validated.

    Raises
    ------
    ConfigError
        The grid cannot be read, or a variant's settings are invalid (named).
    """
    path = Path(grid_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the grid ({err})") from None
    raw = read_raw_config(base_config)
    _unknown(doc, GRID_KEYS, str(path))
    variants = doc.get("variants")
    if not isinstance(variants, Mapping) or not variants:
        raise ConfigError(f"{path}: needs at least one [variants.NAME] table")
    seeds = _numbers(doc, "seeds", [0], path)
    costs = _numbers(doc, "cost_bps", [parse_settings(raw, base_config).backtest.cost_bps], path)
    train_start, every, start, end = _period(doc.get("period"), path)
    for name in variants:
        if not _NAME.match(name):
            raise ConfigError(f"{path}: variant name {name!r} is not a folder name")
    overrides = {k: _with_paths(_flatten(v), path.parent) for k, v in variants.items()}
    jobs = grid_jobs(raw, overrides, seeds, costs, path)
    selection = doc.get("selection")
    if selection is not None and not isinstance(selection, Mapping):
        raise ConfigError(f"{path}: [selection] must be a table")
    names = tuple(dict.fromkeys(j.variant for j in jobs))
    holdout = _holdout(doc.get("holdout"), path, end, float(costs[0]))
    grid = Grid(
        tuple(jobs), names, train_start, every, start, end, overrides,
        None if selection is None else dict(selection), holdout, raw, path,
    )  # fmt: skip
    _check_protocol(grid)
    return grid
