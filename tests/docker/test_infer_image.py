"""The inference image: its size, user, contents and commands (deploy/images.toml's [infer])."""

from __future__ import annotations

import os
import re

import pytest

from tests.docker.containers import FACTS, REPO, REPORT, SAMPLE, Docker, last_line

pytestmark = pytest.mark.docker

INFER = FACTS["infer"]
SITE = "/opt/venv/lib/python3.11/site-packages"
LARGEST = f"""cd {SITE} && du -sm -- * | sort -rn | head -n 15
echo "$(du -sm /opt/venv | cut -f1) virtualenv in all (/opt/venv)" """
IMPORTS = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        print(f"{name}: {type(err).__name__}: {err}")
    else:
        print(f"{name}: IMPORTED")
"""


def _mb(docker: Docker, image: str) -> int | None:
    """The image's size as `docker image ls` counts it (10^6 bytes, uncompressed)."""
    proc = docker("image", "inspect", "-f", "{{ .Size }}", image, check=False)
    return int(proc.stdout) // 1_000_000 if proc.returncode == 0 else None


def test_size_within_limit(docker: Docker, infer_image: str) -> None:
    limit = int(os.environ.get("INFER_SIZE_LIMIT_MB") or INFER["size_limit_mb"])
    others = (os.environ.get("TRAIN_IMAGE", "deepquant-train:latest"), os.environ.get("BASE_IMAGE"))
    for image in (infer_image, *others):
        if image and (mb := _mb(docker, image)) is not None:
            REPORT.note(f"{image:<32} {mb:5d} MB")
    largest = docker.run(infer_image, "-c", LARGEST, entrypoint="sh").stdout
    REPORT.note(f"{infer_image}: largest installed packages (MB on disk, .pyc included)")
    REPORT.note(*(f"   {line}" for line in largest.splitlines()))
    size = _mb(docker, infer_image)
    assert size is not None
    assert size <= limit, (
        f"{infer_image} is {size} MB, over the {limit} MB limit "
        f"(deploy/images.toml, INFER_SIZE_LIMIT_MB); what takes the space:\n{largest}"
    )


def test_runs_as_the_manifests_user(docker: Docker, infer_image: str) -> None:
    """The image's user is the CronJob's runAsUser/runAsGroup, not root."""
    manifest = (REPO / "deploy" / "k8s" / "cronjob-infer.yaml").read_text()
    uid = re.search(r"runAsUser:\s*(\d+)", manifest)
    gid = re.search(r"runAsGroup:\s*(\d+)", manifest)
    assert uid and gid, "deploy/k8s/cronjob-infer.yaml names no runAsUser/runAsGroup"
    out = docker.run(infer_image, entrypoint="id").stdout.strip()
    ids = re.match(r"uid=(\d+)\S* gid=(\d+)", out)
    assert ids and ids.groups() == (uid[1], gid[1]), f"{out}; the CronJob: {uid[1]}:{gid[1]}"
    assert uid[1] != "0", "the CronJob runs the image as root"
    REPORT.note(f"{infer_image}: id: {out}")


def test_no_compiler(docker: Docker, infer_image: str) -> None:
    script = 'for c in "$@"; do command -v "$c"; done; true'
    found = docker.run(infer_image, "-c", script, "sh", *INFER["compilers"], entrypoint="sh")
    assert not found.stdout.strip(), f"compilers in the inference image: {found.stdout}"


def test_absent_modules_do_not_import(docker: Docker, infer_image: str) -> None:
    out = docker.run(infer_image, "-c", IMPORTS, *INFER["absent"], entrypoint="python").stdout
    imported = [line for line in out.splitlines() if line.endswith(": IMPORTED")]
    assert not imported, f"the inference image imports what it must not hold: {imported}"
    REPORT.note(f"{infer_image}: none imports: {', '.join(INFER['absent'])}")


def test_cli_lists_no_research_command(docker: Docker, infer_image: str) -> None:
    version = docker.run(infer_image, "--version", entrypoint="deepquant").stdout.strip()
    help_text = docker.run(infer_image, "--help", entrypoint="deepquant").stdout
    listed = re.findall(r"^ +(backtest|train) ", help_text, re.MULTILINE)
    assert not listed, f"the inference image's help lists {listed}, which it cannot run"
    REPORT.note(f"{infer_image}: {version}")


def test_check_script_passes_in_final_image(docker: Docker, infer_image: str) -> None:
    """deploy/check-infer-image.py again, as uid 10001 on a read-only root, no network.

    The build stage ran it before the copy into the runtime stage: the stripped
    libraries load and work, CLARABEL solves, the .pyc files survived the copy.
    """
    with REPORT.timed("infer image check"):
        proc = docker.run(
            infer_image,
            "/opt/check/check-infer-image.py",
            entrypoint="python",
            read_only=True,
            volumes=(
                f"{REPO}/deploy/check-infer-image.py:/opt/check/check-infer-image.py:ro",
                f"{REPO}/deploy/images.toml:/opt/check/images.toml:ro",
            ),
            check=False,
        )
    assert proc.returncode == 0, f"check-infer-image.py failed:\n{proc.stdout}{proc.stderr}"
    REPORT.note(f"{infer_image}: deploy/check-infer-image.py (read-only root, no network):")
    REPORT.note(*(f"   {line}" for line in proc.stdout.splitlines()))


#: Each command's arguments: it must be refused, not fail on them.
REFUSED = {
    "backtest": f"--config {SAMPLE} --model /models --start 2017-01-01 --end 2017-12-31 "
    "--out /tmp/bt",
    "train": f"--config {SAMPLE} --out /tmp/m",
}


@pytest.mark.parametrize("command", REFUSED)
def test_research_command_refused(docker: Docker, infer_image: str, command: str) -> None:
    """The command is refused in one line: the image holds no research code."""
    args = REFUSED[command].split()
    proc = docker.run(infer_image, command, *args, entrypoint="deepquant", check=False)
    assert proc.returncode != 0, f"deepquant {command} ran in the inference image"
    assert "not available in this installation" in proc.stderr, proc.stderr
    REPORT.note(f"{infer_image}: deepquant {command} refused: {last_line(proc.stderr)}")
