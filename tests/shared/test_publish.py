"""Output folders: checked first, locked, and published as whole sets."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from shared import publish
from shared.errors import DeepQuantError
from shared.publish import (
    CURRENT_NAME,
    LOCK_NAME,
    STAGING_PREFIX,
    VERSIONS_NAME,
    OutputFolder,
    published_files,
    writable_folder,
)


def _write(files: dict[str, str]):
    def write(stage: Path) -> list[Path]:
        for name, text in files.items():
            (stage / name).write_text(text)
        return [stage / n for n in files]

    return write


def _visible(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".")}


def _visible_files(folder: Path) -> dict[str, str]:
    """What a reader can open: a link to nothing is no file."""
    return {
        p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".") and p.exists()
    }


def test_out_that_is_a_file_or_under_one_is_refused_first(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(DeepQuantError, match=r"--out .*/f: is a file, not a folder"):
        writable_folder(file)
    with pytest.raises(DeepQuantError, match=r"is under .*/f, which is a file"):
        writable_folder(file / "sub")
    assert writable_folder(tmp_path / "new" / "deeper").is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_out_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(DeepQuantError, match="not writable"):
        writable_folder(locked)


def test_a_new_set_replaces_the_old_one_whole(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"returns.csv": "1", "report.html": "1", "frontier.png": "1"}))
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"returns.csv": "2", "report.html": "2"}))
    # The chart the second run could not draw does not stay beside its report.
    assert _visible(tmp_path) == {"returns.csv": "2", "report.html": "2"}


def test_sets_of_other_names_are_kept(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("infer_2024-05-30", _write({"weights_2024-05-30.csv": "a"}))
        folder.publish("infer_2024-05-31", _write({"weights_2024-05-31.csv": "b"}))
    assert set(_visible(tmp_path)) == {"weights_2024-05-30.csv", "weights_2024-05-31.csv"}


def test_a_failed_run_leaves_the_previous_set_and_no_staging(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"returns.csv": "1", "report.html": "1"}))

    def half(stage: Path) -> list[Path]:
        (stage / "returns.csv").write_text("2")
        raise RuntimeError("killed while writing the report")

    with pytest.raises(RuntimeError), OutputFolder(tmp_path) as folder:
        folder.publish("bt", half)
    assert _visible(tmp_path) == {"returns.csv": "1", "report.html": "1"}
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


def test_next_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    (tmp_path / f"{STAGING_PREFIX}dead").mkdir()
    (tmp_path / f"{STAGING_PREFIX}dead" / "returns.csv").write_text("half")
    (tmp_path / ".weights_2024-05-31.csv.abc.tmp").write_text("half")
    with OutputFolder(tmp_path):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]


def test_a_run_killed_before_the_switch_leaves_the_previous_set_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"a.csv": "1", "report.html": "1"}))

    def killed(out: Path, version: Path) -> None:
        raise KeyboardInterrupt("killed before the switch")

    monkeypatch.setattr(publish, "_switch", killed)
    with pytest.raises(KeyboardInterrupt), OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"a.csv": "2", "b.csv": "2", "report.html": "2"}))
    # The new version is built and b.csv's link made, but nothing is switched: the old set.
    assert _visible_files(tmp_path) == {"a.csv": "1", "report.html": "1"}
    monkeypatch.undo()
    with OutputFolder(tmp_path):  # the next run removes the unused version and the dead link
        pass
    assert len(list((tmp_path / VERSIONS_NAME).iterdir())) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "a.csv", "report.html",
    ]  # fmt: skip


def test_every_file_switches_at_once_through_one_link(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"a.csv": "1", "report.html": "1"}))
        pinned = (tmp_path / CURRENT_NAME).resolve()  # a reader holding the first version
        folder.publish("bt", _write({"a.csv": "2", "report.html": "2"}))
    for name in ("a.csv", "report.html"):
        assert os.readlink(tmp_path / name) == os.path.join(CURRENT_NAME, name)
    assert _visible(tmp_path) == {"a.csv": "2", "report.html": "2"}
    # A reader who resolved .current before the switch reads the old set to the end...
    assert (pinned / "a.csv").read_text() == "1" and (pinned / "report.html").read_text() == "1"
    assert published_files(tmp_path, "bt") == ["a.csv", "report.html"]
    with OutputFolder(tmp_path):  # ...until the next run starts
        pass
    assert not pinned.exists()


def test_a_folder_of_plain_files_is_adopted_with_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "weights_2024-05-30.csv").write_text("old")
    (tmp_path / ".set-infer_2024-05-30.json").write_text(
        json.dumps({"set": "infer_2024-05-30", "files": ["weights_2024-05-30.csv"]})
    )
    with OutputFolder(tmp_path) as folder:
        assert (tmp_path / "weights_2024-05-30.csv").is_symlink()
        assert published_files(tmp_path, "infer_2024-05-30") == ["weights_2024-05-30.csv"]
        folder.publish("infer_2024-05-31", _write({"weights_2024-05-31.csv": "new"}))
    assert _visible(tmp_path) == {"weights_2024-05-30.csv": "old", "weights_2024-05-31.csv": "new"}


def _hold(path: str, started) -> None:  # runs in a child process
    with OutputFolder(Path(path)):
        started.set()
        time.sleep(60)


def test_a_second_concurrent_run_is_refused_and_a_killed_one_frees_the_folder(
    tmp_path: Path,
) -> None:
    started = multiprocessing.Event()
    child = multiprocessing.Process(target=_hold, args=(str(tmp_path), started))
    child.start()
    try:
        assert started.wait(30)
        with pytest.raises(
            DeepQuantError, match=rf"in use by another deepquant run \(pid {child.pid}\)"
        ):
            OutputFolder(tmp_path).__enter__()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    with OutputFolder(tmp_path) as folder:  # the kernel released the dead run's lock
        folder.publish("x", _write({"ok.txt": "1"}))
    assert _visible(tmp_path) == {"ok.txt": "1"}


def test_last_names_are_moved_last(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        paths = folder.publish(
            "infer_d", _write({"weights_d.csv": "w", "run_d.json": "{}"}), last=("weights_d.csv",)
        )
    assert [p.name for p in paths] == ["run_d.json", "weights_d.csv"]


def _publish_slowly(path: str, started) -> None:  # runs in a child process
    def write(stage: Path) -> list[Path]:
        (stage / "returns.csv").write_text("new")
        started.set()
        time.sleep(60)  # killed here, half-way through its set
        (stage / "report.html").write_text("new")
        return []

    with OutputFolder(Path(path)) as folder:
        folder.publish("bt", write)


def test_kill_9_half_way_through_a_set_leaves_the_previous_one(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.publish("bt", _write({"returns.csv": "old", "report.html": "old"}))
    started = multiprocessing.Event()
    child = multiprocessing.Process(target=_publish_slowly, args=(str(tmp_path), started))
    child.start()
    assert started.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert _visible(tmp_path) == {"returns.csv": "old", "report.html": "old"}
    with OutputFolder(tmp_path):  # the next run
        pass
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


def test_a_relative_folder_keeps_its_current_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Path("out")  # as a user types it: relative to where the job runs
    with OutputFolder(out) as folder:
        folder.publish("bt", _write({"a.csv": "1"}))
        folder.publish("bt", _write({"a.csv": "2"}))
    with OutputFolder(out):  # the next run tidies, and keeps what is current
        pass
    assert _visible(out) == {"a.csv": "2"}
    assert len(list((out / VERSIONS_NAME).iterdir())) == 1
