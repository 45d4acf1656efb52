"""What a run reuses between its decision dates: model sessions, its panel's features, the cache.

The live job decides once and starts a :class:`Run` of its own. A backtest
keeps one for all its dates: an onnxruntime session per bundle, the
features of its whole price panel (features are trailing, so a date's rows
equal those computed from prices cut at that date), and the content cache
(:mod:`inferer.memo`) that a sweep's tasks share through one folder. Every
result a run gives is the one the step would compute: the cache is keyed by
the step's inputs (the model's checksum and the windows; the embeddings and
:func:`inferer.cluster.clustering_params`), never by where they came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from inferer.cluster import Clustering, cluster_with, clustering_params
from inferer.embed import Embedder
from inferer.memo import Memo, digest
from shared.bundle import Bundle
from shared.config import FeatureSettings, InferenceSettings
from shared.features import FeatureCube, compute_features

__all__ = ["Run"]


class Run:
    """Sessions, features and cached results kept from one decision date to the next.

    Parameters
    ----------
    memo : Memo, optional
        The content cache; default: none (every step computes).
    features : FeatureCube, optional
        The features of the whole price panel the run decides on.
    threads : int
        onnxruntime intra-op threads of each session (``[inference] onnx_threads``).
    """

    def __init__(
        self,
        threads: int,
        *,
        memo: Memo | None = None,
        features: FeatureCube | None = None,
    ) -> None:
        self.threads = threads
        self.memo = memo if memo is not None else Memo(keep=False)
        self.panel_features = features
        self._embedders: dict[Path, Embedder] = {}

    def features(self, past: pl.DataFrame, settings: FeatureSettings, last: int) -> FeatureCube:
        """The features of ``past``: the panel's when the run has them, else its last rows."""
        if self.panel_features is not None:
            return self.panel_features
        return compute_features(past, settings, last=last)

    def embed(self, bundle: Bundle, inputs: np.ndarray) -> np.ndarray:
        """``bundle``'s embeddings of ``inputs`` (scaled windows)."""
        if bundle.path not in self._embedders:
            self._embedders[bundle.path] = Embedder(bundle, self.threads)
        embedder = self._embedders[bundle.path]
        key = digest(bundle.encoder_key, inputs)
        return self.memo.get("embed", key, lambda: embedder.embed(inputs))

    def cluster(self, embeddings: np.ndarray, cfg: InferenceSettings) -> Clustering:
        """The clustering of ``embeddings`` under ``[inference]``."""
        key = digest(embeddings, *clustering_params(cfg).values())
        return self.memo.get("cluster", key, lambda: cluster_with(embeddings, cfg))
