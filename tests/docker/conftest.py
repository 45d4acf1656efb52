"""Fixtures of the container checks (``make docker-test``; deselected by ``make test``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.docker.containers import REPORT, Docker, unavailable


@pytest.fixture(scope="session")
def docker() -> Docker:
    client = os.environ.get("DQ_DOCKER", "docker")
    if shutil.which(client) is None:
        unavailable(f"no Docker client {client!r} (DQ_DOCKER); run `make docker-test`")
    where = os.environ.get("DOCKER_HOST", "the default socket")
    try:
        docker = Docker(client)
        info = docker("info", "--format", "{{ .ServerVersion }}", check=False, timeout=60)
    except Exception as err:  # a hung engine: the timeout
        unavailable(f"no Docker engine reachable at {where} ({err}); run `make docker-test`")
    if info.returncode != 0:
        reason = info.stderr.strip().splitlines()[-1:] or ["no answer"]
        unavailable(f"no Docker engine reachable at {where} ({reason[0]}); run `make docker-test`")
    return docker


def _image(docker: Docker, variable: str, default: str) -> str:
    image = os.environ.get(variable, default)
    if docker("image", "inspect", image, check=False).returncode != 0:
        unavailable(f"image {image} ({variable}) is not built; run `scripts/docker.sh build`")
    return image


@pytest.fixture(scope="session")
def infer_image(docker: Docker) -> str:
    return _image(docker, "INFER_IMAGE", "deepquant-infer:latest")


@pytest.fixture(scope="session")
def train_image(docker: Docker) -> str:
    return _image(docker, "TRAIN_IMAGE", "deepquant-train:latest")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Host folders for /data, /models and /outputs, writable by the images' uid 10001."""
    root = tmp_path_factory.mktemp("containers")
    for sub in ("data", "data/cache", "models", "outputs"):
        (root / sub).mkdir(exist_ok=True)
        (root / sub).chmod(0o777)
    return root


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT.lines:
        terminalreporter.section("containers")
        for line in REPORT.lines:
            terminalreporter.write_line(line)
    if REPORT.timings:
        terminalreporter.section("container check timings")
        for label, seconds in REPORT.timings:
            terminalreporter.write_line(f"{label:<34} {seconds:5.1f} s")
