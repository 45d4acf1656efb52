"""``deepquant train --workers 2``: the same bundles as one after the other, on a Ray of its own.

The bundles are seed ensembles of two. With more cores than bundles each member is a
Ray task of its own (``trainer/members.py``); one after the other they train in the
bundle's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the `scale` extra (Ray) is not installed")

from tests.fast import FAST

pytestmark = pytest.mark.slow


def _train(config: Path, out: Path, workers: int, env: dict[str, str]) -> str:
    cmd = [sys.executable, "-m", "deepquant", "train", "--config", str(config), "--start",
           "2017-01-01", "--end", "2018-12-28", "--retrain-every", "12", "--workers",
           str(workers), "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_two_workers_train_the_same_bundles_on_a_ray_of_their_own(tmp_path: Path) -> None:
    config = tmp_path / "fast.toml"
    config.write_text(FAST.replace("[train]\n", "[train]\nseeds = 2\n"))
    # A cluster address left in the environment (nothing listens there) must not be
    # joined: without --address, the command starts Ray in its own process.
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1", "RAY_ADDRESS": "127.0.0.1:9"}
    _train(config, tmp_path / "one", 1, env)
    # Three cores for two bundles: a core to spare, so the members are tasks too.
    log = _train(config, tmp_path / "two", 3, env)
    assert "trained 2/2" in log
    for day in ("2017-01-01", "2018-01-01"):
        for member in ("model.onnx", "model_1.onnx"):
            one = (tmp_path / "one" / day / member).read_bytes()
            assert one == (tmp_path / "two" / day / member).read_bytes(), (day, member)
        # Each bundle's task log is kept beside it and names the node that ran it.
        bundle_log = (tmp_path / "two" / f"{day}.log").read_text()
        assert "on node " in bundle_log and "member trained 2/2" in bundle_log
        # Its members were tasks of their own, each with its log.
        for seed in (0, 1):
            assert "on node " in (tmp_path / "two" / f"{day}.seed{seed}.log").read_text()
    # One after the other, the members train in the bundle's process: no member tasks.
    assert not list((tmp_path / "one").glob("*.seed*.log"))
