"""Offline on the embedded sample: train in the training image, infer from that bundle.

Every container runs with --network none; the inference run also on a
read-only root, with /models mounted read-only, as the CronJob runs it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.docker.containers import REPORT, SAMPLE, Docker

pytestmark = pytest.mark.docker

#: The whole `deepquant infer` process, interpreter start-up and imports
#: included, without the container's own start.
WHOLE_PROCESS = f"""
import subprocess, time
t0 = time.perf_counter()
subprocess.run(["deepquant", "-q", "infer", "--config", "{SAMPLE}", "--model", "/models",
                "--out", "/tmp/out"], check=True, stdout=subprocess.DEVNULL)
print(f"{{time.perf_counter() - t0:.2f}}")
"""


def _volumes(workdir: Path, *, models: str = "") -> tuple[str, ...]:
    return (
        f"{workdir}/data:/data",
        f"{workdir}/models:/models{models}",
        f"{workdir}/outputs:/outputs",
    )


@pytest.mark.parametrize("which", ["infer_image", "train_image"])
def test_loads_the_sample_offline(
    docker: Docker, workdir: Path, which: str, request: pytest.FixtureRequest
) -> None:
    image = request.getfixturevalue(which)
    args = f"-q data --config {SAMPLE}".split()
    out = docker.run(
        image, *args, entrypoint="deepquant", volumes=(f"{workdir}/data:/data",)
    ).stdout
    REPORT.note(f"{image}: deepquant data:", *(f"   {line}" for line in out.splitlines()[-3:]))


@pytest.fixture(scope="module")
def bundle(docker: Docker, train_image: str, workdir: Path) -> Path:
    """`deepquant train` on the sample into a dated folder, the walk-forward layout.

    `deepquant train` stages a bundle next to its target, and uid 10001 cannot
    write beside the /models mount: hence /models/2017-12-31, not /models.
    """
    with REPORT.timed("train (sample)"):
        args = f"--config {SAMPLE} --out /models/2017-12-31".split()
        docker.run(train_image, *args, volumes=_volumes(workdir))
    return workdir / "models"


@pytest.fixture(scope="module")
def weights(docker: Docker, infer_image: str, workdir: Path, bundle: Path) -> Path:
    """`deepquant infer` from that bundle: the newest weights_*.csv in /outputs."""
    with REPORT.timed("infer (sample)"):
        docker.run(
            infer_image,
            "--config",
            SAMPLE,
            "--model",
            "/models",
            "--out",
            "/outputs",
            read_only=True,
            volumes=_volumes(workdir, models=":ro"),
        )
    found = sorted((workdir / "outputs").glob("weights_*.csv"))
    assert found, f"no weights_*.csv in /outputs: {sorted((workdir / 'outputs').iterdir())}"
    return found[-1]


def test_train_writes_a_bundle(bundle: Path) -> None:
    manifests = list(bundle.rglob("manifest.json"))
    assert manifests, "no bundle (manifest.json) under /models"
    files = sorted(p for p in bundle.glob("*/*") if p.is_file())
    REPORT.note("bundle:", *(f"   /models/{p.relative_to(bundle)}" for p in files))


def test_infer_writes_valid_weights(weights: Path) -> None:
    with weights.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, f"{weights.name}: no rows"
    values = [float(r["weight"]) for r in rows]
    total = sum(values)
    assert abs(total - 1) < 1e-6, f"{weights.name}: weights sum to {total}"
    assert min(values) >= 0, f"{weights.name}: negative weight"
    outputs = sorted(p.name for p in weights.parent.iterdir() if p.is_file())
    REPORT.note(
        f"/outputs: {', '.join(outputs)}",
        f"{weights.name}: {len(rows)} assets, weights sum to {total:.6f}",
        *(f"   {r['ticker']:>8} {float(r['weight']):.4f} cluster {r['cluster']}" for r in rows[:5]),
    )


def test_infer_whole_process_time(
    docker: Docker, infer_image: str, workdir: Path, bundle: Path
) -> None:
    """Reported, not checked (the machine may be busy); the target is under 3 s."""
    out = docker.run(
        infer_image,
        "-c",
        WHOLE_PROCESS,
        entrypoint="python",
        read_only=True,
        volumes=(f"{workdir}/data:/data", f"{workdir}/models:/models:ro"),
    ).stdout
    REPORT.note(
        f"deepquant infer, whole process: {out.strip()} s "
        "(start-up and imports included; target < 3 s)"
    )
