"""Results of the costly steps before selection, kept under a digest of their inputs.

A research grid backtests many variants that differ only after clustering
(selection, allocation, costs): each would embed and cluster the same
assets on the same dates again. A :class:`Memo` passed down the pipeline
keeps each result under a sha256 of exactly what it was computed from (the
model's checksum and the input windows; the embeddings and the clustering
settings; the returns HRP weighs), so a hit is the very result the step
would return, whichever variant asks. With a folder, results outlive the
process and are shared by every worker that sees the folder; they are
written whole or not at all (a temporary file and a rename).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from shared.atomic import atomic_open

__all__ = ["Memo", "digest"]

T = TypeVar("T")


def digest(*parts: Any) -> str:
    """sha256 of arrays (dtype, shape and bytes) and of the ``repr`` of anything else."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


class Memo:
    """A content-addressed store of step results, in memory and, optionally, in ``folder``.

    ``keep=False`` (and no folder) stores nothing: every call computes, as a
    single run that never asks twice wants.
    """

    def __init__(self, folder: str | Path | None = None, *, keep: bool = True) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.keep = keep
        self._kept: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, kind: str, key: str, compute: Callable[[], T]) -> T:
        """The result stored for ``kind``/``key``, else ``compute()``'s, stored."""
        if not self.keep and self.folder is None:
            self.misses += 1
            return compute()
        name = f"{kind}-{key}"
        if name in self._kept:
            self.hits += 1
            return self._kept[name]
        path = self.folder / kind / f"{key}.pkl" if self.folder is not None else None
        if path is not None and path.is_file():
            with path.open("rb") as fh:
                value = pickle.load(fh)  # our own files, written below
            self.hits += 1
        else:
            value = compute()
            self.misses += 1
            if path is not None:
                with atomic_open(path, "wb", fsync=False) as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if self.keep:
            self._kept[name] = value
        return value
