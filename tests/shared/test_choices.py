"""Each option value set is defined once: the config accepts what the code can run."""

from __future__ import annotations

from functools import partial
from typing import get_args

import pytest

from backtest.accounting import FREQUENCIES, rebalance_indices
from backtest.baselines import BASELINES
from inferer.allocate import FALLBACKS, METHODS
from inferer.allocate import allocate as _allocate
from inferer.cluster import LINKAGES
from shared import choices
from shared.config import (
    BacktestSettings,
    DataSettings,
    InferenceSettings,
    ModelSettings,
    TrainSettings,
)
from shared.errors import ConfigError

_CFG = InferenceSettings()
#: The settings' defaults (shared/config.py) for the calls that leave them out.


#: The settings' defaults, from shared/config.py, for calls that leave them out.
allocate = partial(
    _allocate, fallback=InferenceSettings().fallback, covariance=InferenceSettings().covariance
)

FIELDS = [
    (DataSettings, "source", choices.Source),
    (ModelSettings, "decoder", choices.Decoder),
    (TrainSettings, "device", choices.Device),
    (InferenceSettings, "linkage", choices.Linkage),
    (InferenceSettings, "method", choices.Method),
    (InferenceSettings, "fallback", choices.Fallback),
    (BacktestSettings, "rebalance", choices.Rebalance),
    (BacktestSettings, "cash", choices.Cash),
]


@pytest.mark.parametrize(("section", "name", "alias"), FIELDS, ids=[f[1] for f in FIELDS])
def test_config_fields_are_typed_by_the_one_alias(section, name, alias) -> None:
    assert section.model_fields[name].annotation == alias


def test_baselines_field_lists_the_registry() -> None:
    (inner,) = get_args(BacktestSettings.model_fields["baselines"].annotation)[:1]
    assert set(get_args(inner)) == set(BASELINES) == set(get_args(choices.Baseline))
    assert BacktestSettings().baselines == get_args(choices.Baseline)


def test_modules_read_their_sets_from_the_aliases() -> None:
    assert get_args(choices.Linkage) == LINKAGES
    assert get_args(choices.Method) == METHODS
    assert get_args(choices.Fallback) == FALLBACKS
    assert set(FALLBACKS) <= set(METHODS)
    assert get_args(choices.Rebalance) == FREQUENCIES


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(method: str) -> None:
    import numpy as np

    r = np.random.default_rng(0).normal(0.001, 0.01, size=(120, 3))
    assert allocate(r, method).method_used == method


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_every_rebalance_frequency_runs(frequency: str) -> None:
    import datetime as dt

    import numpy as np

    days = np.arange("2024-01-01", "2024-12-31", dtype="datetime64[D]")
    assert rebalance_indices(days, dt.date(2024, 1, 1), dt.date(2024, 12, 31), frequency).size


def test_min_clusters_is_one_number() -> None:
    from shared.config import parse_settings

    with pytest.raises(ConfigError, match=f">= {choices.MIN_CLUSTERS}"):
        parse_settings({"inference": {"n_clusters": choices.MIN_CLUSTERS - 1}})
