"""The KubeRay manifest runs a command `deepquant sweep` accepts, with files the image holds."""

from __future__ import annotations

import shlex

import yaml

from sweep.cli import sweep
from tests.paths import ROOT


def test_rayjob_entrypoint_parses_as_a_sweep() -> None:
    doc = yaml.safe_load((ROOT / "deploy" / "k8s" / "rayjob-sweep.yaml").read_text())
    assert doc["kind"] == "RayJob"
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[:2] == ["deepquant", "sweep"]
    ctx = sweep.make_context("sweep", argv[2:])
    assert ctx.params["address"] == "auto"
    # The grid and the config ship in the image's /app/configs (Dockerfile.train: COPY configs).
    for option in ("grid", "config"):
        path = str(ctx.params[option])
        assert path.startswith("/app/configs/")
        assert (ROOT / "configs" / path.removeprefix("/app/configs/")).is_file()
    workers = doc["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert all(g["template"]["spec"]["containers"][0]["image"].startswith("deepquant-train")
               for g in workers)  # fmt: skip


def test_rayjob_turns_on_ray_token_authentication() -> None:
    # Without it, anyone who reaches the cluster's ports can run code on it.
    doc = yaml.safe_load((ROOT / "deploy" / "k8s" / "rayjob-sweep.yaml").read_text())
    assert doc["spec"]["rayClusterSpec"]["authOptions"] == {"mode": "token"}
