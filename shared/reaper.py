"""Ray's helper agents go when the process that started Ray dies, even by ``kill -9``.

A local Ray (``ray.init`` in this process) starts a raylet, whose dashboard
and runtime-env agents should exit with it. Killed with ``kill -9``, the
process cannot shut Ray down; the raylet goes, and the two agents stay,
ignoring SIGTERM (Ray's issues #39092 and #59162). So once Ray is up,
:func:`reap_on_death` notes the agents this process started and hands them
to a small watcher process of its own session, which waits for this process
to end and then kills whichever of them is still the same process (same
start time: a reused pid is left alone). Linux only (``/proc``); elsewhere
it does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["AGENTS", "agents_of", "reap_on_death"]

#: Process titles of the Ray helpers that outlive a killed driver.
AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
#: Half-seconds to wait for the agents to appear.
_WAIT_TRIES = 20

_WATCHER = """
import os, signal, sys, time
driver, pairs = int(sys.argv[1]), [p.split(":") for p in sys.argv[2:]]
def start(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None
while True:
    try:
        os.kill(driver, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
time.sleep(3)  # a shutdown that is under way finishes on its own
for pid, when in pairs:
    if start(pid) == when:
        os.kill(int(pid), signal.SIGKILL)
"""


def _stat(pid: int) -> tuple[int, str] | None:
    """``(parent pid, start time)`` of ``pid`` from ``/proc``; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[19]


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
    except OSError:
        return ""


def agents_of(root: int) -> list[tuple[int, str]]:
    """``(pid, start time)`` of every Ray agent descending from process ``root``."""
    if not Path("/proc").is_dir():
        return []
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat
    found = []
    for pid, (_, started) in parents.items():
        ancestor = pid
        while ancestor in parents and ancestor != root:
            ancestor = parents[ancestor][0]
        if ancestor == root and pid != root and _title(pid).startswith(AGENTS):
            found.append((pid, started))
    return found


def reap_on_death(driver: int | None = None) -> subprocess.Popen[bytes] | None:
    """Watch ``driver`` (this process): when it ends, kill the Ray agents it started.

    Returns the watcher, or None when there is nothing to watch.
    """
    driver = os.getpid() if driver is None else driver
    agents = agents_of(driver)
    for _ in range(_WAIT_TRIES):  # the raylet starts its agents just after Ray is up
        if len(agents) >= len(AGENTS):
            break
        time.sleep(0.5)
        agents = agents_of(driver)
    if not agents:
        return None
    args = [sys.executable, "-c", _WATCHER, str(driver), *(f"{p}:{s}" for p, s in agents)]
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the driver's process group: a group kill spares it
    )
