"""shared.atomic: files and folders appear whole, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.atomic import atomic_open, move_into, remove_leftovers, replace_dir


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_replace_dir_swaps_a_folder_whole(tmp_path: Path) -> None:
    target, staged = tmp_path / "bundle", tmp_path / ".bundle.tmp"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    replace_dir(staged, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # nothing set aside is left


def test_move_into_moves_what_is_left_to_move(tmp_path: Path) -> None:
    staged = tmp_path / ".staging"
    staged.mkdir()
    for name in ("model", "manifest"):
        (staged / name).write_text(name)
    (staged / "model").rename(tmp_path / "model")  # an interrupted call moved the first
    move_into(staged, tmp_path, ("model", "manifest"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "manifest", "model"]
    assert not list(staged.iterdir())


def test_remove_leftovers_removes_only_atomic_opens_temporaries(tmp_path: Path) -> None:
    (tmp_path / ".sharpe.png.abc123.tmp").write_text("half")
    (tmp_path / "sharpe.png").write_text("whole")
    (tmp_path / "notes.tmp").write_text("not ours: not hidden")
    gone = remove_leftovers(tmp_path)
    assert [p.name for p in gone] == [".sharpe.png.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "sharpe.png"]
