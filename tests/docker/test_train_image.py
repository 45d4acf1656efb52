"""The training image: CPU torch, and the research commands (backtest, sweep on Ray)."""

from __future__ import annotations

import pytest

from tests.docker.containers import FACTS, REPORT, Docker

pytestmark = pytest.mark.docker

VERSIONS = """
import importlib, sys
mods = {m: importlib.import_module(m) for m in sys.argv[1:]}
print(*(f"{m} {getattr(mod, '__version__', '')}".strip() for m, mod in mods.items()), sep=" | ")
import torch
print(torch.version.cuda)
"""


def test_research_modules_import_and_torch_is_cpu(docker: Docker, train_image: str) -> None:
    modules = FACTS["train"]["modules"]
    out = docker.run(train_image, "-c", VERSIONS, *modules, entrypoint="python").stdout
    versions, cuda = out.strip().splitlines()[-2:]
    REPORT.note(f"{train_image}: {versions}; torch.version.cuda {cuda}")
    assert cuda == "None", f"torch in the training image is a CUDA build ({cuda})"


def test_sweep_command_is_there(docker: Docker, train_image: str) -> None:
    docker.run(train_image, "sweep", "--help", entrypoint="deepquant")
