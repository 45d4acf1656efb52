"""Embeddings from an ONNX encoder with onnxruntime (no torch).

The one place an onnxruntime session is made (:func:`open_session`): the cron
job, the backtest and the exporter's parity check all embed through
:class:`Embedder`. The session is built once per bundle and reused: in a
backtest the same encoder embeds every month's windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from shared.bundle import Bundle
from shared.errors import BundleError, DataError

#: Windows per onnxruntime call: one 18,000-window batch peaked at 7.4 GB,
#: chunks of 2,000 at about 1 GB, for the same speed (docs/design.md, measured points).
CHUNK = 2048


def open_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """A CPU onnxruntime session for ``model_path``.

    Raises
    ------
    BundleError
        onnxruntime cannot load the file.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning idle threads slow down whatever runs next (clustering, solvers).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise BundleError(f"{model_path}: onnxruntime cannot load it ({err})") from None


def side_by_side(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of ``parts`` made unit-length, side by side, over ``sqrt(len(parts))``.

    The squared distance between two rows of the result is the mean of the
    parts' squared distances between their unit rows: clustering the result
    clusters the average distance matrix (a seed ensemble's members, or
    :func:`inferer.pipeline` smoothing over months).
    """
    units = [e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12) for e in parts]
    return (np.hstack(units) / np.sqrt(len(units))).astype(np.float32)


class Embedder:
    """Maps windows ``(n, window, F)`` to embeddings ``(n, latent)``.

    A seed ensemble of ``K`` encoders (``[train] seeds``) embeds with each
    and returns their unit-length embeddings side by side over ``sqrt(K)``,
    ``(n, K x latent)``: the squared Euclidean distance of two such rows is
    the mean of the members' squared distances between their unit
    embeddings, so clustering them clusters the members' average distances.

    Parameters
    ----------
    bundle : Bundle
        A verified bundle (:func:`shared.bundle.load_bundle`).
    threads : int
        onnxruntime intra-op threads.
    member : int, optional
        Embed with that encoder of the ensemble alone (the export's parity check).
    """

    def __init__(self, bundle: Bundle, threads: int, member: int | None = None) -> None:
        self.bundle = bundle
        paths = bundle.member_paths if member is None else [bundle.member_paths[member]]
        self.sessions = [open_session(p, threads) for p in paths]
        manifest = bundle.manifest
        self.input_name = manifest.input_name
        self.output_name = manifest.output_name
        for session in self.sessions:
            graph = (
                [i.name for i in session.get_inputs()],
                [o.name for o in session.get_outputs()],
            )
            if graph != ([self.input_name], [self.output_name]):
                raise BundleError(
                    f"model bundle {bundle.path}: the manifest names input {self.input_name!r} "
                    f"and output {self.output_name!r}, the ONNX graph has {graph[0]} and "
                    f"{graph[1]}"
                )
        self.shape = (manifest.window, len(manifest.feature_names))
        self.latent = manifest.latent * len(self.sessions)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Embed scaled windows; returns float32 ``(n, latent)``."""
        if windows.ndim != 3 or windows.shape[1:] != self.shape:
            raise DataError(
                f"windows of shape {windows.shape[1:]} do not fit the model's {self.shape}"
            )
        if len(windows) == 0:
            return np.empty((0, self.latent), np.float32)
        x = np.ascontiguousarray(windows, dtype=np.float32)
        each = [self._run(session, x) for session in self.sessions]
        return each[0] if len(each) == 1 else side_by_side(each)

    def _run(self, session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
        parts = [
            session.run([self.output_name], {self.input_name: x[i : i + CHUNK]})[0]
            for i in range(0, len(x), CHUNK)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)
