"""A protocol's selection rule, applied by the code, and the held-out grid it leads to.

A grid with a ``[selection]`` table (:mod:`sweep.grid`) names the rule that
picks one variant from the development results, fixed before they exist:
the highest mean Sharpe ratio among the variants whose one-way turnover is
under ``max_turnover`` a year and whose max drawdown is at most
``drawdown_ratio`` of the ``drawdown_of`` series' over the same days. Sharpe
ratios within ``tie`` of the best tie, and the tie goes to the variant with
fewer settings changed from ``baseline``, then to the first listed. When no
variant meets both bounds the turnover bound is relaxed to
``relaxed_turnover``, then dropped; when no variant meets the drawdown
bound, ``baseline`` is selected. :class:`Choice` says which step decided.

With a ``[holdout]`` table the selected variant, and each of its ablations
that applies to it, is then run on the held-out period
(:func:`holdout_grid`), once: ``selection.json`` in the held-out folder
records the selection, and a later run that selects another variant is
refused (:func:`check_once`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import polars as pl

from backtest.baselines import BASELINES
from backtest.regime_layer import layered_name
from backtest.report import format_value
from inferer.memo import digest
from shared.atomic import atomic_write_text
from shared.config import PATH_KEYS
from shared.errors import ConfigError
from sweep.grid import Grid, applies, grid_jobs

__all__ = ["Choice", "Rule", "check_once", "holdout_grid", "select", "write_choice"]

#: The held-out runs' folder below the sweep's, and the file that fixes its variant.
HOLDOUT = "holdout"
CHOICE = "selection.json"
#: Series a drawdown bound can name: the benchmark and every baseline, with a regime layer too.
SERIES = ("benchmark", *BASELINES, *(layered_name(b) for b in BASELINES))


@dataclass(frozen=True)
class Rule:
    """The ``[selection]`` table: bounds, the relaxation, ties (module docstring).

    Every key is required: a protocol states its whole rule.
    """

    baseline: str
    max_turnover: float
    relaxed_turnover: float
    drawdown_of: str
    drawdown_ratio: float
    tie: float

    @classmethod
    def of(cls, grid: Grid) -> Rule:
        """The grid's rule, validated; ConfigError naming the bad key."""
        table = dict(grid.selection or {})
        where = f"{grid.path}: [selection]"
        unknown = set(table) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        try:
            rule = cls(**table)
        except TypeError as err:
            raise ConfigError(f"{where}: {err}") from None
        rule._check(grid, where)
        return rule

    def _check(self, grid: Grid, where: str) -> None:
        numbers = (self.max_turnover, self.relaxed_turnover, self.drawdown_ratio, self.tie)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
            raise ConfigError(f"{where}: the bounds, the ratio and the tie must be numbers")
        if self.baseline not in grid.overrides:
            raise ConfigError(f"{where}: baseline {self.baseline!r} is not a variant of the grid")
        if self.drawdown_of not in SERIES:
            raise ConfigError(
                f"{where}: drawdown_of {self.drawdown_of!r} is not a series of the runs "
                f"({', '.join(SERIES)})"
            )
        if not 0 < self.max_turnover <= self.relaxed_turnover or self.drawdown_ratio <= 0:
            raise ConfigError(
                f"{where}: needs 0 < max_turnover <= relaxed_turnover and drawdown_ratio > 0"
            )
        if self.tie < 0:
            raise ConfigError(f"{where}: tie must be 0 or more")
        if len({j.cost_bps for j in grid.jobs}) > 1:
            # One figure per variant: a rule ranks variants, not variants at several costs.
            raise ConfigError(f"{grid.path}: a protocol's development grid has one cost_bps")


@dataclass(frozen=True)
class Choice:
    """The selected variant, the step of the rule that selected it, and every variant's figures."""

    variant: str
    step: str
    table: pl.DataFrame


def _changed(grid: Grid, variant: str, baseline: str) -> int:
    """Settings in which ``variant`` differs from ``baseline`` (dotted keys)."""
    a, b = grid.overrides[variant], grid.overrides[baseline]
    return sum(a.get(k) != b.get(k) for k in set(a) | set(b))


def figures(results: pl.DataFrame, grid: Grid, rule: Rule) -> pl.DataFrame:
    """Per variant: mean Sharpe, turnover, max drawdown, the drawdown bound, settings changed."""
    means = (
        results.group_by("variant", "series")
        .agg(pl.col("sharpe", "turnover", "max_drawdown").mean())
        .filter(pl.col("series").is_in(["strategy", rule.drawdown_of]))
    )
    rows = []
    for v in grid.variants:
        mine = means.filter(pl.col("variant") == v)
        strat = mine.filter(pl.col("series") == "strategy").row(0, named=True)
        ref = mine.filter(pl.col("series") == rule.drawdown_of)
        bound = rule.drawdown_ratio * ref["max_drawdown"][0] if ref.height else math.nan
        rows.append({
            "variant": v, "sharpe": strat["sharpe"], "turnover": strat["turnover"],
            "max_drawdown": strat["max_drawdown"], "drawdown_bound": bound,
            "changed": _changed(grid, v, rule.baseline),
        })  # fmt: skip
    return pl.DataFrame(rows)


def _best(table: pl.DataFrame, tie: float) -> str | None:
    ok = table.filter(pl.col("sharpe").is_finite())
    if ok.height == 0:
        return None
    top = float(ok["sharpe"].max())  # type: ignore[arg-type]
    near = ok.with_row_index("order").filter(pl.col("sharpe") >= top - tie)
    return str(near.sort("changed", "order")["variant"][0])


def select(results: pl.DataFrame, grid: Grid, rule: Rule) -> Choice:
    """Apply ``rule`` to the development ``results`` (:func:`sweep.results.aggregate`'s)."""
    table = figures(results, grid, rule)
    drawdown = pl.col("max_drawdown") >= pl.col("drawdown_bound")
    steps = [
        (f"both bounds (turnover under {rule.max_turnover:.0%} a year)",
         drawdown & (pl.col("turnover") < rule.max_turnover)),
        (f"turnover bound relaxed to {rule.relaxed_turnover:.0%} a year",
         drawdown & (pl.col("turnover") < rule.relaxed_turnover)),
        ("turnover bound dropped, drawdown bound only", drawdown),
    ]  # fmt: skip
    table = table.with_columns(
        (pl.col("turnover") < rule.max_turnover).alias("meets_turnover"),
        drawdown.fill_null(False).alias("meets_drawdown"),
    )
    for step, eligible in steps:
        best = _best(table.filter(eligible.fill_null(False)), rule.tie)
        if best is not None:
            return Choice(best, step, table)
    return Choice(rule.baseline, "no variant meets the drawdown bound: the baseline", table)


def write_choice(choice: Choice, rule: Rule, out: Path) -> str:
    """``selection.md`` in ``out``: the rule, each variant against it, the outcome; its text."""
    lines = [
        "# Selection",
        "",
        f"Rule: the highest Sharpe ratio with one-way turnover under {rule.max_turnover:.0%} a "
        f"year and a max drawdown at most {rule.drawdown_ratio:.3g} of {rule.drawdown_of}'s; "
        f"ties within {rule.tie:g} to fewer settings changed from {rule.baseline}.",
        "",
        "| variant | Sharpe | turnover | max drawdown | bound | changed | turnover ok "
        "| drawdown ok |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | :---: | :---: |",
    ]
    for r in choice.table.iter_rows(named=True):
        lines.append(
            f"| {r['variant']} | {format_value(r['sharpe'], 'ratio')} | "
            f"{format_value(r['turnover'], 'pct1')} | {format_value(r['max_drawdown'], 'pct1')} | "
            f"{format_value(r['drawdown_bound'], 'pct1')} | {r['changed']} | "
            f"{'yes' if r['meets_turnover'] else 'no'} | {'yes' if r['meets_drawdown'] else 'no'} |"
        )
    lines += ["", f"Selected: **{choice.variant}**, by {choice.step}."]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "selection.md", text)
    return text


def _fingerprint(grid: Grid, variant: str, rule: Rule) -> str:
    """What the held-out runs depend on besides the prices: the rule, the held-out table,
    the variant's settings and the base config (its file paths aside)."""
    base = {
        name: {k: v for k, v in section.items() if k not in PATH_KEYS.get(name, ())}
        if isinstance(section, dict) else section
        for name, section in grid.raw.items()
    }  # fmt: skip
    held = asdict(grid.holdout) if grid.holdout is not None else None
    return digest(asdict(rule), held, sorted(grid.overrides[variant].items()), base)


def check_once(folder: Path, grid: Grid, choice: Choice, rule: Rule) -> None:
    """Record the selection in the held-out ``folder``; refuse a run that differs from it.

    A recorded selection of another variant, or of the same one under another
    rule, held-out table, variant settings or base config, is refused.
    """
    path = folder / CHOICE
    fingerprint = _fingerprint(grid, choice.variant, rule)
    if path.is_file():
        try:
            done = json.loads(path.read_text())
            variant, recorded = done["variant"], done.get("fingerprint", fingerprint)
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(f"{path}: not a selection record; the held-out period ran") from None
        if variant != choice.variant or recorded != fingerprint:
            what = "" if variant != choice.variant else " under other settings"
            raise ConfigError(
                f"{folder}: the held-out period was run for {variant!r}; a protocol runs it "
                f"once, not again for {choice.variant!r}{what}"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    record = {"variant": choice.variant, "step": choice.step, "rule": asdict(rule),
              "fingerprint": fingerprint}  # fmt: skip
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def holdout_grid(grid: Grid, variant: str) -> Grid:
    """The held-out grid: ``variant`` and each ablation that applies to it, every seed and cost.

    An ablation is named ``<variant>_<ablation>``.
    """
    holdout = grid.holdout
    if holdout is None:
        raise ConfigError(f"{grid.path}: no [holdout] table")
    chosen = grid.overrides[variant]
    overrides = {variant: chosen}
    for name, dotted in holdout.ablations.items():
        if applies(grid.raw, chosen, dotted):
            overrides[f"{variant}_{name}"] = {**chosen, **dotted}
    jobs = grid_jobs(grid.raw, overrides, holdout.seeds, holdout.cost_bps, grid.path)
    names = tuple(dict.fromkeys(j.variant for j in jobs))
    return replace(
        grid, jobs=tuple(jobs), variants=names, start=holdout.start, end=holdout.end,
        overrides=overrides, selection=None, holdout=None,
    )  # fmt: skip
