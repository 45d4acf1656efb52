"""Config files: the shipped ones load, every mistake is one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import Settings, load_settings
from shared.errors import ConfigError
from tests.paths import ROOT


@pytest.mark.parametrize(
    "name",
    [
        "default.toml",
        "sample.toml",
        "experiments/seed_2025.toml",
        "experiments/no_cash_rule.toml",
        "experiments/protocol2_base.toml",
    ],
)
def test_shipped_configs_load(name: str) -> None:
    settings = load_settings(ROOT / "configs" / name)
    assert settings.features.window == 30
    assert settings.model.latent > 0


def test_default_config_is_the_live_universe() -> None:
    s = load_settings(ROOT / "configs" / "default.toml")
    assert s.data.source == "yahoo" and s.model.latent == 64
    assert s.data.universe == (ROOT / "configs" / "universe.toml").resolve()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\nsourse = 'sample'\n", r"\[data.sourse\] unknown setting"),
        ("[dataa]\nsource = 'sample'\n", r"\[dataa\] unknown setting"),
        ("[data]\nstart = 2024-02-30\n", "not valid TOML"),
        ("[data]\nstart = 'yesterday'\n", r"\[data.start\]"),
        ("[data]\nstart = 2024-01-01\nend = 2023-01-01\n", "end 2023-01-01 is not after start"),
        (
            "[features]\nwindow = -3\n",
            r"\[features.window\] Input should be greater than or equal to 2",
        ),
        ("[train]\nbatch_size = 0\n", r"\[train.batch_size\]"),
        ("[model]\nd_model = 30\nn_heads = 4\n", "divisible by n_heads"),
        ("[data]\nsource = 'panel'\n", "needs 'path'"),
        ("[inference]\nn_clusters = 1\n", "n_clusters must be >= 2"),
        ("[inference]\nmethod = 'magic'\n", r"\[inference.method\]"),
        ("[backtest]\ncost_bps = -1\n", r"\[backtest.cost_bps\]"),
        # Settings a person would not mean: 5.0 for 5%, a million bps.
        ("[inference]\nrisk_free = 5.0\n", r"\[inference.risk_free.*less than 0.5"),
        ("[backtest]\ncost_bps = 1e6\n", r"\[backtest.cost_bps\] Input should be less than 1000"),
        ("[backtest]\nslippage_bps = 5000\n", r"\[backtest.slippage_bps\]"),
        ("[train]\nretrain_every = 12\n", r"\[train.retrain_every\] unknown setting"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(_write(tmp_path, text))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, "[data]\nsource = 'panel'\npath = 'p.csv'\n"))
    assert s.data.path == tmp_path / "p.csv"


def test_digest_is_stable_and_sensitive() -> None:
    a, b = Settings(), Settings.model_validate({"backtest": {"cost_bps": 5}})
    assert a.digest() == Settings().digest() != b.digest()


def test_a_setting_that_moved_says_where() -> None:
    from shared.config import parse_settings
    from shared.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no_trade_band moved to \[trading\]"):
        parse_settings({"backtest": {"no_trade_band": 0.1}}, "old.toml")
    assert parse_settings({"trading": {"no_trade_band": 0.1}}).trading.no_trade_band == 0.1
