"""The grid file: variants x seeds x costs, each validated, bad ones named in one line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.errors import ConfigError
from sweep.grid import load_grid
from tests.paths import ROOT

BASE = ROOT / "configs" / "sample.toml"
PERIOD = """
[period]
train_start = 2017-01-01
retrain_every = 12
start = 2017-01-01
end = 2018-12-28
"""


def _grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_variants_times_seeds_times_costs(tmp_path: Path) -> None:
    grid = load_grid(
        _grid(
            tmp_path,
            "seeds = [0, 7]\ncost_bps = [0, 25]\n"
            + PERIOD
            + """
[variants.base]
[variants.top3]
inference.top_n = 3
[variants.lw]
"inference.method" = "max_sharpe"
""",
        ),
        BASE,
    )
    assert grid.variants == ("base-0bps", "base-25bps", "top3-0bps", "top3-25bps",
                             "lw-0bps", "lw-25bps")  # fmt: skip
    assert len(grid.jobs) == 3 * 2 * 2
    by = {(j.variant, j.seed): j.settings for j in grid.jobs}
    assert by[("top3-25bps", 7)].inference.top_n == 3
    assert by[("top3-25bps", 7)].train.seed == 7
    assert by[("top3-25bps", 7)].backtest.cost_bps == 25
    assert by[("lw-0bps", 0)].inference.method == "max_sharpe"
    # Everything else is the base config's.
    assert by[("base-0bps", 0)].model == by[("top3-25bps", 7)].model
    assert (grid.start, grid.end, grid.retrain_every) == (
        dt.date(2017, 1, 1), dt.date(2018, 12, 28), 12)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PERIOD, "needs at least one [variants.NAME] table"),
        ("[variants.a]\n", "needs a [period] table"),
        (PERIOD + "[variants.a]\ninference.top_n = 0\n", "variant a, seed 0"),
        (PERIOD + "[variants.a]\ninference.nope = 1\n", "inference.nope"),
        (PERIOD + '[variants."a b"]\n', "is not a folder name"),
        ("seeds = []\n" + PERIOD + "[variants.a]\n", "seeds must be a non-empty list"),
        (
            PERIOD.replace("retrain_every = 12", "retrain_every = 0") + "[variants.a]\n",
            "retrain_every >= 1",
        ),
        ("x = \n", "cannot read the grid"),
        ("seed = [0, 1]\n" + PERIOD + "[variants.a]\n", "unknown key 'seed'"),
        (PERIOD + "train_years = 3\n[variants.a]\n", "[period]: unknown key 'train_years'"),
        ("seeds = [0, 0]\n" + PERIOD + "[variants.a]\n", "seeds lists a value more than once"),
        ("cost_bps = [10, 10.0]\n" + PERIOD + "[variants.a]\n", "cost_bps lists a value"),
    ],
)
def test_bad_grids_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"grid\.toml") as err:
        load_grid(_grid(tmp_path, text), BASE)
    assert message in str(err.value) and "\n" not in str(err.value)
