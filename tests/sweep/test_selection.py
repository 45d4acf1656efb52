"""A protocol's selection rule on hand-made results, its relaxations, and the held-out grid."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from shared.errors import ConfigError
from sweep.grid import Grid, load_grid
from sweep.selection import Rule, check_once, holdout_grid, select
from tests.sweep.test_grid import BASE, PERIOD
from tests.sweep.test_grid import _grid as write_grid

GRID = (
    PERIOD
    + """
[selection]
baseline = "base"
max_turnover = 1.5
relaxed_turnover = 3.0
drawdown_of = "equal_weight"
drawdown_ratio = 0.5
tie = 0.01

[holdout]
start = 2019-01-01
end = 2019-12-31
seeds = [0, 10]
cost_bps = [10.0, 25.0]

[holdout.ablations.no_regime]
regime.model = "none"

[holdout.ablations.top2]
inference.top_n = 2

[variants.base]

[variants.budget]
trading.max_turnover = 0.1

[variants.jump]
regime.model = "jump"
regime.history = "history.csv"

[variants.jump_budget]
regime.model = "jump"
trading.max_turnover = 0.1
"""
)


def _grid(tmp_path: Path, text: str = GRID) -> Grid:
    return load_grid(write_grid(tmp_path, text), BASE)


def _results(rows: dict[str, tuple[float, float, float]], ew_drawdown: float) -> pl.DataFrame:
    """Strategy (Sharpe, turnover, max drawdown) per variant, and equal weight's drawdown."""
    frame = []
    for variant, (sharpe, turnover, drawdown) in rows.items():
        frame.append({"variant": variant, "series": "strategy", "sharpe": sharpe,
                      "turnover": turnover, "max_drawdown": drawdown})  # fmt: skip
        frame.append({"variant": variant, "series": "equal_weight", "sharpe": 0.5,
                      "turnover": 0.3, "max_drawdown": ew_drawdown})  # fmt: skip
    return pl.DataFrame(frame)


def test_the_best_sharpe_within_both_bounds(tmp_path: Path) -> None:
    grid = _grid(tmp_path)
    # Equal weight's drawdown -30%: the bound is -15%.
    results = _results(
        {"base": (1.5, 8.0, -0.10), "budget": (0.9, 1.2, -0.14),
         "jump": (1.2, 1.4, -0.16), "jump_budget": (0.8, 1.0, -0.05)},
        -0.30,
    )  # fmt: skip
    choice = select(results, grid, Rule.of(grid))
    # base has the best Sharpe but turns over 800%; jump is 1% too deep.
    assert choice.variant == "budget" and choice.step.startswith("both bounds")
    table = {r["variant"]: r for r in choice.table.iter_rows(named=True)}
    assert table["jump"]["drawdown_bound"] == pytest.approx(-0.15)
    assert not table["jump"]["meets_drawdown"] and table["jump"]["meets_turnover"]
    # jump sets model and history; jump_budget model and budget.
    assert [table[v]["changed"] for v in grid.variants] == [0, 1, 2, 2]


def test_a_tie_goes_to_fewer_settings_changed(tmp_path: Path) -> None:
    grid = _grid(tmp_path)
    results = _results(
        {"base": (0.5, 8.0, -0.10), "budget": (0.795, 1.2, -0.14),
         "jump": (0.9, 1.4, -0.12), "jump_budget": (0.8, 1.0, -0.05)},
        -0.30,
    )  # fmt: skip
    # jump_budget (0.80) and budget (0.795) tie within 0.01; budget changes one setting.
    grid_no_jump = pl.DataFrame(results).filter(pl.col("variant") != "jump")
    assert select(grid_no_jump, _drop(grid, "jump"), Rule.of(grid)).variant == "budget"
    assert select(results, grid, Rule.of(grid)).variant == "jump"


def _drop(grid: Grid, variant: str) -> Grid:
    from dataclasses import replace

    kept = {k: v for k, v in grid.overrides.items() if k != variant}
    return replace(grid, variants=tuple(kept), overrides=kept)


@pytest.mark.parametrize(
    ("rows", "variant", "step"),
    [
        # None under 150% within the drawdown bound: the bound is relaxed to 300%.
        ({"base": (1.0, 8.0, -0.10), "budget": (0.7, 2.5, -0.12), "jump": (0.9, 2.9, -0.14),
          "jump_budget": (2.0, 1.0, -0.25)}, "jump", "relaxed to 300%"),
        # None under 300% either: the turnover bound is dropped.
        ({"base": (1.0, 8.0, -0.10), "budget": (0.7, 4.0, -0.12), "jump": (0.9, 5.0, -0.14),
          "jump_budget": (2.0, 1.0, -0.25)}, "base", "drawdown bound only"),
        # None within the drawdown bound: the baseline.
        ({"base": (0.1, 8.0, -0.20), "budget": (0.7, 1.0, -0.22), "jump": (0.9, 1.0, -0.16),
          "jump_budget": (2.0, 1.0, -0.25)}, "base", "the baseline"),
    ],
)  # fmt: skip
def test_the_relaxations_in_their_order(
    tmp_path: Path, rows: dict[str, tuple[float, float, float]], variant: str, step: str
) -> None:
    grid = _grid(tmp_path)
    choice = select(_results(rows, -0.30), grid, Rule.of(grid))
    assert (choice.variant, step in choice.step) == (variant, True)


def test_an_undefined_sharpe_is_never_selected(tmp_path: Path) -> None:
    grid = _grid(tmp_path)
    rows = {"base": (9.0, 8.0, -0.1), "budget": (float("nan"), 1.0, -0.1),
            "jump": (0.2, 1.0, -0.1), "jump_budget": (0.1, 1.0, -0.1)}  # fmt: skip
    assert select(_results(rows, -0.3), grid, Rule.of(grid)).variant == "jump"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('baseline = "nope"', "baseline 'nope' is not a variant"),
        ("max_turnover = 4.0", "max_turnover <= relaxed_turnover"),
        ("drawdown_ratio = 0", "drawdown_ratio > 0"),
        ("extra = 1", "unknown key 'extra'"),
        ('drawdown_of = "equal_weigth"', "drawdown_of 'equal_weigth' is not a series"),
        ("tie = -0.1", "tie must be 0 or more"),
        ('max_turnover = "1.5"', "must be numbers"),
    ],
)
def test_a_bad_rule_is_one_line(tmp_path: Path, line: str, message: str) -> None:
    key = line.split(" =")[0]
    text = "\n".join(ln for ln in GRID.splitlines() if not ln.startswith(f"{key} =")).replace(
        "[selection]", f"[selection]\n{line}"
    )
    with pytest.raises(ConfigError, match=r"\[selection\]") as err:
        Rule.of(_grid(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seeds = [0, 10]", "seeds = [0.5]", "whole seeds"),
        ("start = 2019-01-01", "start = 2018-12-28", "within the development period"),
        ("[holdout.ablations.top2]\ninference.top_n = 2", "[holdout.ablations.top2]\n"
         "inference.top_n = 0", "variant base_top2"),
        ("[variants.budget]", "[variants.holdout]", "cannot be named 'holdout'"),
        ("\n[period]", "cost_bps = [10.0, 20.0]\n[period]", "has one cost_bps"),
    ],
)  # fmt: skip
def test_a_bad_protocol_is_refused_before_anything_runs(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GRID
    with pytest.raises(ConfigError) as err:
        Rule.of(_grid(tmp_path, GRID.replace(old, new)))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_held_out_period_needs_a_rule(tmp_path: Path) -> None:
    start, end = GRID.index("[selection]"), GRID.index("[holdout]")
    with pytest.raises(ConfigError, match=r"\[holdout\] needs a \[selection\] rule"):
        _grid(tmp_path, GRID[:start] + GRID[end:])


def test_a_rule_states_every_key(tmp_path: Path) -> None:
    text = GRID.replace("tie = 0.01\n", "")
    with pytest.raises(ConfigError, match=r"\[selection\]: .*missing 1 required .*'tie'"):
        Rule.of(_grid(tmp_path, text))


def test_the_holdout_grid_runs_the_choice_and_its_ablations(tmp_path: Path) -> None:
    grid = _grid(tmp_path)
    held = holdout_grid(grid, "jump")
    assert (held.start, held.end) == (dt.date(2019, 1, 1), dt.date(2019, 12, 31))
    assert held.variants == tuple(
        f"{v}-{c}bps" for v in ("jump", "jump_no_regime", "jump_top2") for c in (10, 25)
    )
    assert len(held.jobs) == 3 * 2 * 2 and {j.seed for j in held.jobs} == {0, 10}
    by = {(j.variant, j.seed): j.settings for j in held.jobs}
    assert by[("jump-25bps", 10)].regime.model == "jump"
    assert by[("jump-25bps", 10)].backtest.cost_bps == 25
    assert by[("jump_no_regime-10bps", 0)].regime.model == "none"
    assert by[("jump_top2-10bps", 0)].inference.top_n == 2
    assert by[("jump_top2-10bps", 0)].regime.model == "jump"
    # The variant's path was read against the grid's folder.
    assert by[("jump-10bps", 0)].regime.history == tmp_path.resolve() / "history.csv"
    # Without a regime layer the regime ablation does not apply; the other does.
    assert holdout_grid(grid, "budget").variants == (
        "budget-10bps", "budget-25bps", "budget_top2-10bps", "budget_top2-25bps")  # fmt: skip


def test_the_held_out_period_runs_for_one_variant_only(tmp_path: Path) -> None:
    grid = _grid(tmp_path)
    rule = Rule.of(grid)
    rows = {"base": (1.0, 1.0, -0.1), "budget": (0.5, 1.0, -0.1),
            "jump": (0.2, 1.0, -0.1), "jump_budget": (0.1, 1.0, -0.1)}  # fmt: skip
    results = _results(rows, -0.3)
    folder = tmp_path / "holdout"
    first = select(results, grid, rule)
    check_once(folder, grid, first, rule)
    assert json.loads((folder / "selection.json").read_text())["variant"] == "base"
    check_once(folder, grid, first, rule)  # the same selection resumes
    other = select(results.with_columns(pl.col("sharpe") * -1), grid, rule)
    assert other.variant != "base"
    with pytest.raises(ConfigError, match="was run for 'base'; a protocol runs it once"):
        check_once(folder, grid, other, rule)
    # The same variant with other held-out seeds would run it again: refused too.
    reseeded = _grid(tmp_path, GRID.replace("seeds = [0, 10]", "seeds = [0, 11]"))
    with pytest.raises(ConfigError, match="not again for 'base' under other settings"):
        check_once(folder, reseeded, first, rule)
    (folder / "selection.json").write_text("{")
    with pytest.raises(ConfigError, match="not a selection record"):
        check_once(folder, grid, first, rule)
