"""The Python API: the README's example runs, and each function returns what the CLI computes."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import ConfigError, DataError
from tests.imports import imported_after
from tests.paths import ROOT


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Python API section has no python code block"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path: Path) -> None:
    code = _readme_example().replace("runs/api/", f"{tmp_path}/")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["2021-01-01", "2022-01-01"]
    assert "equal_weight" not in proc.stderr


def test_import_deepquant_is_light() -> None:
    code = "import deepquant; assert callable(deepquant.decide) and callable(deepquant.backtest)"
    heavy = {"torch", "onnxruntime", "matplotlib", "sklearn", "ray", "inferer", "backtest"}
    assert not heavy & imported_after(code)


def test_overrides_are_validated_like_the_file() -> None:
    import deepquant as dq

    sample = ROOT / "configs" / "sample.toml"
    settings = dq.load_config(sample, {"inference": {"method": "hrp"}})
    assert settings.inference.method == "hrp"
    assert settings.inference.top_n == dq.load_config(sample).inference.top_n
    with pytest.raises(ConfigError, match=r"inference.methd"):
        dq.load_config(sample, {"inference": {"methd": "hrp"}})


def test_decide_equals_the_pipeline_on_the_same_day(sample_models: Path) -> None:
    import deepquant as dq
    from inferer.pipeline import decide_asof
    from shared.bundle import find_bundle

    settings = dq.load_config(ROOT / "configs" / "sample.toml")
    data = dq.load_prices(settings)
    day = dt.date(2019, 6, 28)
    got = dq.decide(data, sample_models, settings, asof=dt.date(2019, 6, 30))  # a Sunday
    want = decide_asof(
        data.prices, day, find_bundle(sample_models, day), settings,
        classes=data.universe.asset_class,
    )  # fmt: skip
    assert got.asof == day and got.weights == want.weights and got.clusters == want.clusters


def test_sweep_results_without_a_finished_sweep_is_a_data_error(tmp_path: Path) -> None:
    import deepquant as dq

    with pytest.raises(DataError, match=r"no results\.parquet"):
        dq.sweep_results(tmp_path)
