"""Write files and folders whole or not at all: the one mechanism every writer uses.

A file is written to a temporary name beside it and renamed over it
(:func:`atomic_open`); a folder is built beside its target and renamed into
place, the previous one swapped out and removed only once the new one is in
(:func:`replace_dir`); files built in a staging folder inside their target
(a container volume's mount point, which cannot be renamed) are moved in
one by one in a given order, the one readers wait for last (:func:`move_into`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    A reader (or a run killed half-way) never sees a partial file: the rename
    is atomic on POSIX file systems, and the temporary file is removed on error.

    Parameters
    ----------
    path : path
        Final location; its folder is created if needed.
    mode : {"w", "wb"}
        Text (UTF-8, no newline translation) or binary.
    fsync : bool
        Flush to the disk before the rename, so the file also survives a
        power loss whole. A cache, which can be recomputed, goes without.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        binary = "b" in mode
        encoding, newline = (None, None) if binary else ("utf-8", "")
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Remove the temporary files a killed write left in ``folder``; those removed.

    Only :func:`atomic_open`'s own names (``.<name>.<random>.tmp``): a run
    starting in a folder calls it, so nothing half-written outlives it.
    """
    gone = sorted(Path(folder).glob(".*.tmp"))
    for tmp in gone:
        tmp.unlink(missing_ok=True)
    return gone


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_open`; return ``path``."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def replace_dir(staged: str | Path, target: str | Path) -> None:
    """Make the finished folder ``staged`` appear at ``target`` whole.

    A folder already at ``target`` is renamed aside first and removed once
    ``staged`` is in its place; if that rename fails it is put back.
    """
    staged, target = Path(staged), Path(target)
    if not target.exists():
        os.replace(staged, target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    try:
        os.replace(staged, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def move_into(staged: str | Path, target: str | Path, names: Sequence[str]) -> None:
    """Move the files ``names`` of ``staged`` into ``target``, in that order.

    Each move is an atomic rename, and the last name is the one a reader
    waits for. A name no longer in ``staged`` was moved by an interrupted
    call: moving the rest finishes it.
    """
    staged, target = Path(staged), Path(target)
    for name in names:
        if (staged / name).exists():
            os.replace(staged / name, target / name)
