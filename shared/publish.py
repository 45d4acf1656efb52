"""An output folder a run can trust: checked first, locked, and published as one set.

A run's files (the weights CSV and run JSON of one date, or a whole backtest)
are a *set*. They are written into a staging folder inside the output
folder; then a new *version* of the folder is made beside it
(``.versions/<id>/``: hard links to every file of the current version that
the set does not replace, and the set's own files), and one atomic rename
switches the link ``.current`` to it. Every file a reader opens in the folder
is a link through ``.current`` (``report.html -> .current/report.html``), so
the switch changes them all at once: whenever the run is killed, the folder
holds one whole set or the other, never a mix. A reader who must read
several files of one set resolves ``.current`` once and reads through that
version, which stays until the next run starts. Files of the previous set
that the new one does not have (a chart a shorter backtest cannot draw) go
with the switch. The next run removes what a killed one left (its staging
folder, an unused version, links to nothing).

A folder written by an earlier deepquant (plain files) is adopted first:
its files become the first version, each replaced by a link with the same
bytes behind it.

A lock file per folder (``flock``, released by the kernel when a process dies,
even by ``kill -9``) refuses a second concurrent run with a one-line error.

Everything happens inside the output folder, never beside it, so it works
when the folder is a container volume's mount point (which cannot be
renamed).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from shared.atomic import atomic_write_text, remove_leftovers
from shared.errors import DeepQuantError

log = logging.getLogger("deepquant.publish")

#: Names the folder's bookkeeping uses; all hidden.
LOCK_NAME = ".deepquant.lock"
STAGING_PREFIX = ".staging-"
SET_PREFIX = ".set-"
CURRENT_NAME = ".current"
VERSIONS_NAME = ".versions"


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


def _record(folder: Path, name: str) -> Path:
    """Where the record of set ``name`` is: in the current version (or, in a folder of the
    earlier layout, beside the files)."""
    current = Path(folder) / CURRENT_NAME / f"{SET_PREFIX}{name}.json"
    return current if current.is_file() else Path(folder) / f"{SET_PREFIX}{name}.json"


def published(folder: Path, name: str) -> bool:
    """Whether a set ``name`` has been published whole in ``folder``."""
    return _record(folder, name).is_file()


def published_files(folder: Path, name: str) -> list[str]:
    """The files of the set ``name`` last published in ``folder`` (none: no such set)."""
    record = _record(folder, name)
    return list(json.loads(record.read_text())["files"]) if record.is_file() else []


def _current(out: Path) -> Path | None:
    link = out / CURRENT_NAME
    return link.resolve() if link.is_symlink() and link.exists() else None


def _switch(out: Path, version: Path) -> None:
    """Point ``.current`` at ``version`` with one atomic rename."""
    tmp = out / f"{CURRENT_NAME}.{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(version, out), tmp)
    os.replace(tmp, out / CURRENT_NAME)


def _link(out: Path, name: str) -> None:
    """Make ``out/name`` the link through ``.current`` (atomically, replacing a plain file)."""
    path = out / name
    target = os.path.join(CURRENT_NAME, name)
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = out / f".{name}.{uuid.uuid4().hex[:8]}.link"
    os.symlink(target, tmp)
    os.replace(tmp, path)


def _new_version(out: Path) -> Path:
    version = out / VERSIONS_NAME / uuid.uuid4().hex
    version.mkdir(parents=True)
    return version


def _adopt(out: Path) -> None:
    """Make a folder of plain files (the earlier layout, or a copy that followed the links)
    its first version, bytes unchanged."""
    current = out / CURRENT_NAME
    if current.is_symlink():
        return
    if current.is_dir():  # a copy that followed the links: its plain files are the set
        for record in current.glob(f"{SET_PREFIX}*.json"):
            os.replace(record, out / record.name)
        shutil.rmtree(current)
        shutil.rmtree(out / VERSIONS_NAME, ignore_errors=True)
    files = [p for p in out.iterdir() if p.is_file() and not p.is_symlink()
             and (not p.name.startswith(".") or p.name.startswith(SET_PREFIX))]  # fmt: skip
    if not files:
        return
    version = _new_version(out)
    for file in files:
        os.link(file, version / file.name)
    _switch(out, version)
    for file in files:
        if file.name.startswith(SET_PREFIX):
            file.unlink()
        else:
            _link(out, file.name)


def _tidy(out: Path, keep: Path | None = None) -> None:
    """Remove versions other than the current one (and ``keep``), and links to nothing."""
    # Compared resolved: ``out`` may be a relative path, .current resolves absolute.
    kept = {p.resolve() for p in (_current(out), keep) if p is not None}
    for version in (out / VERSIONS_NAME).glob("*") if (out / VERSIONS_NAME).is_dir() else ():
        if version.resolve() not in kept:
            shutil.rmtree(version, ignore_errors=True)
    for path in out.iterdir():
        if path.is_symlink() and not path.name.startswith(".") and not path.exists():
            path.unlink()
    for stray in list(out.glob(f"{CURRENT_NAME}.*")) + list(out.glob(".*.link")):
        stray.unlink(missing_ok=True)


def _publish_set(out: Path, stage: Path, name: str, files: Sequence[str]) -> None:
    """The set's files, with the current version's others, as a new version; then the switch."""
    current, replaced = _current(out), set(published_files(out, name))
    version = _new_version(out)
    for old in current.iterdir() if current is not None else ():
        if old.name not in replaced and old.name != f"{SET_PREFIX}{name}.json":
            os.link(old, version / old.name)
    for file in files:
        os.replace(stage / file, version / file)
    atomic_write_text(
        version / f"{SET_PREFIX}{name}.json", json.dumps({"set": name, "files": list(files)})
    )
    for entry in version.iterdir():
        if not entry.name.startswith("."):
            _link(out, entry.name)  # a new name's link reads nothing until the switch
    _switch(out, version)
    # The version just replaced stays until the next run: a reader who resolved
    # .current before the switch reads its set to the end.
    _tidy(out, keep=current)
    shutil.rmtree(stage, ignore_errors=True)


def _recover(out: Path) -> None:
    """Remove what a killed run left: its staging folder, an unused version, dead links."""
    for stage in sorted(out.glob(f"{STAGING_PREFIX}*")):
        shutil.rmtree(stage, ignore_errors=True)
    remove_leftovers(out)
    _adopt(out)
    _tidy(out)


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
        _publish_set(self.path, stage, name, order)
        log.debug("published %s in %s: %s", name, self.path, ", ".join(order))
        return [self.path / n for n in order]
