"""What the container checks share: the docker client, the images' facts, a report.

The checks run against images that ``scripts/docker.sh test`` has just built,
through the engine it found or started, which it names in the environment:

    DQ_DOCKER            the docker client (default: ``docker``)
    DOCKER_HOST          the engine's socket, when not the default one
    TRAIN_IMAGE          default deepquant-train:latest
    INFER_IMAGE          default deepquant-infer:latest
    BASE_IMAGE           the base both were built on (its size is reported)
    DQ_HADOLINT          the hadolint binary (else hadolint on PATH)
    DQ_DOCKER_REQUIRED   1: a missing engine or image fails instead of skipping
"""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
#: deploy/images.toml: what the images must and must not hold.
FACTS = tomllib.loads((REPO / "deploy" / "images.toml").read_text())
SAMPLE = "/app/configs/sample.toml"


def unavailable(reason: str) -> NoReturn:
    """Skip, saying why; fail instead where scripts/docker.sh built the images."""
    if os.environ.get("DQ_DOCKER_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Docker:
    """The docker client; every container runs with ``--rm --network none``."""

    client: str

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.client, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`docker {' '.join(args)}` exited {proc.returncode}:\n"
                f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
            )
        return proc

    def run(
        self,
        image: str,
        *args: str,
        entrypoint: str | None = None,
        volumes: tuple[str, ...] = (),
        read_only: bool = False,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        opts = ["run", "--rm", "--network", "none"]
        if read_only:
            opts += ["--read-only", "--tmpfs", "/tmp"]
        for volume in volumes:
            opts += ["-v", volume]
        if entrypoint:
            opts += ["--entrypoint", entrypoint]
        return self(*opts, image, *args, check=check)


@dataclass
class Report:
    """Lines and step timings printed after the run (pytest's terminal summary)."""

    lines: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def note(self, *lines: str) -> None:
        self.lines.extend(lines)

    @contextmanager
    def timed(self, label: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings.append((label, time.perf_counter() - t0))


REPORT = Report()


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
