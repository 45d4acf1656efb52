"""Write files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
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


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_open`; return ``path``."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)
