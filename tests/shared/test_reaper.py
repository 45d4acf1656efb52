"""shared.reaper: a kill -9 of the process that started Ray leaves no Ray agent behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.reaper import AGENTS, agents_of
from tests.paths import ROOT

DRIVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from shared.parallel import connect
connect(None, 1)
import ray
print(ray.get(ray.remote(lambda: "ready").remote()), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the reaper reads /proc (Linux)")
def test_a_killed_driver_takes_its_ray_agents_with_it() -> None:
    pytest.importorskip("ray")
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "ready"
        agents = agents_of(driver.pid)
        titles = {Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
                  for pid, _ in agents}  # fmt: skip
        assert titles == set(AGENTS)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid, _ in agents) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [pid for pid, _ in agents if _alive(pid)]
    finally:
        driver.kill()
