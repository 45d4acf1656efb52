"""An output folder a run can trust: checked first, locked, and published as one set.

A run's files (the weights CSV and run JSON of one date, or a whole backtest)
are a *set*: they are written into a staging folder inside the output folder,
and only when all of them are written are they moved into place, the file
downstream jobs wait for last. A run killed before that leaves the previous
set whole; the staging folder it leaves behind is removed by the next run. A
run killed while moving files leaves a staging folder marked ready, and the
next run finishes the move before anything else, so the folder never keeps a
mix. Files of the previous set that the new one does not have (a chart a
shorter backtest cannot draw) are removed with the move, so a reader never
sees one run's report beside another run's returns.

A lock file per folder (``flock``, released by the kernel when a process dies,
even by ``kill -9``) refuses a second concurrent run with a one-line error.

Staging happens inside the output folder, never beside it, so it works when
the folder is a container volume's mount point (which cannot be renamed).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from shared.atomic import atomic_write_text, move_into, remove_leftovers
from shared.errors import DeepQuantError

log = logging.getLogger("deepquant.publish")

#: Names the folder's bookkeeping uses; all hidden.
LOCK_NAME = ".deepquant.lock"
STAGING_PREFIX = ".staging-"
READY_NAME = ".ready.json"
SET_PREFIX = ".set-"


def writable_folder(path: Path, option: str = "--out") -> Path:
    """Create ``path`` if needed and check a file can be written in it.

    Raises
    ------
    DeepQuantError
        ``path`` or one of its parents is a file, or the folder is not writable:
        one line naming the option and the path, before any work is done.
    """
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == path else f"is under {parent}, which is a file"
            raise DeepQuantError(f"{option} {path}: {what}, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise DeepQuantError(f"{option} {path}: not writable ({err.strerror})") from None
    return path


def published(folder: Path, name: str) -> bool:
    """Whether a set ``name`` has been published whole in ``folder`` (its record is last)."""
    return (Path(folder) / f"{SET_PREFIX}{name}.json").is_file()


def published_files(folder: Path, name: str) -> list[str]:
    """The files of the set ``name`` last published in ``folder`` (none: no such set)."""
    record = Path(folder) / f"{SET_PREFIX}{name}.json"
    return list(json.loads(record.read_text())["files"]) if record.is_file() else []


def _move_set(out: Path, stage: Path) -> None:
    """Move a ready staging folder's files into ``out`` (the rest, if interrupted)."""
    ready = json.loads((stage / READY_NAME).read_text())
    name, files = ready["set"], ready["files"]
    previous = published_files(out, name)
    move_into(stage, out, files)
    for file in set(previous) - set(files):
        (out / file).unlink(missing_ok=True)
    record = out / f"{SET_PREFIX}{name}.json"
    atomic_write_text(record, json.dumps({"set": name, "files": files}) + "\n")
    shutil.rmtree(stage)


def _recover(out: Path) -> None:
    """Finish what a killed run left half done, and remove what it left unfinished."""
    for stage in sorted(out.glob(f"{STAGING_PREFIX}*")):
        if (stage / READY_NAME).is_file():
            _move_set(out, stage)
        else:
            shutil.rmtree(stage, ignore_errors=True)
    remove_leftovers(out)


class OutputFolder:
    """The ``--out`` folder of one run: checked, locked, and published into.

    Parameters
    ----------
    path : Path
        The folder; created if missing.
    option : str
        How the user named it, for error messages.

    Examples
    --------
    >>> with OutputFolder(out) as folder:  # doctest: +SKIP
    ...     result = compute()
    ...     folder.publish("infer_2024-05-31", lambda stage: write(result, stage))
    """

    def __init__(self, path: Path, option: str = "--out") -> None:
        self.path = writable_folder(Path(path), option)
        self.option = option
        self._lock: IO[Any] | None = None

    def __enter__(self) -> OutputFolder:
        lock = open(self.path / LOCK_NAME, "a+")  # held until __exit__
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "another process"
            lock.close()
            raise DeepQuantError(
                f"{self.option} {self.path}: in use by another deepquant run ({owner}); "
                "wait for it or use another folder"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        self._lock = lock
        _recover(self.path)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def publish(
        self, name: str, write: Callable[[Path], Iterable[Path]], last: Sequence[str] = ()
    ) -> list[Path]:
        """Write a set through ``write(stage)`` and move it into the folder whole.

        Parameters
        ----------
        name : str
            The set; publishing a set of the same name replaces it (and removes
            its files the new one lacks).
        write : callable
            Writes the set's files into the staging folder it is given.
        last : sequence of str
            File names moved last (what downstream jobs wait for).

        Returns
        -------
        list of Path
            The published files, in the folder.
        """
        if self._lock is None:
            raise RuntimeError("OutputFolder.publish outside its with-block")
        stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.path))
        try:
            write(stage)
            names = sorted(p.name for p in stage.iterdir() if p.is_file())
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        order = [n for n in names if n not in last] + [n for n in last if n in names]
        atomic_write_text(stage / READY_NAME, json.dumps({"set": name, "files": order}))
        _move_set(self.path, stage)
        log.debug("published %s in %s: %s", name, self.path, ", ".join(order))
        return [self.path / n for n in order]
