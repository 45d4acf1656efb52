"""Export the encoder to ONNX, check it against torch, and write a bundle atomically.

A bundle is written into a temporary folder beside the target, verified
(onnxruntime parity, checksum, manifest read back), and only then renamed into
place, so a failed export never leaves a partial bundle behind.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

import shared
from inferer.embed import Embedder
from shared.atomic import move_into, replace_dir
from shared.bundle import (
    INPUT_NAME,
    MANIFEST_NAME,
    MODEL_NAME,
    OUTPUT_NAME,
    Bundle,
    Manifest,
    is_bundle,
    load_bundle,
    sha256_file,
)
from shared.config import FeatureSettings
from shared.errors import BundleError
from shared.features import FEATURE_NAMES, feature_params
from shared.scaling import Scaler

OPSET = 17
#: Largest torch/onnxruntime difference accepted, in latent units.
PARITY_ATOL = 1e-4
PARITY_BATCHES = (1, 7, 300)
#: A seed ensemble's extra encoder: the model, its seed, its losses.
Member: TypeAlias = tuple[nn.Module, int, dict[str, Any]]


class ParityError(BundleError):
    """The exported ONNX model disagrees with the torch encoder."""


def export_onnx(encoder: nn.Module, path: Path, window: int, n_features: int) -> None:
    """Write ``encoder`` as ONNX: ``windows`` (batch, window, F) -> ``latent`` (batch, latent).

    The legacy TorchScript exporter (``dynamo=False``) writes one self-contained
    file at opset 17; the batch axis is dynamic.
    """
    encoder = copy.deepcopy(encoder).cpu().eval()
    example = torch.zeros(2, window, n_features)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # The fused inference kernel of nn.TransformerEncoderLayer has no ONNX form.
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():
            # The legacy exporter announces its own deprecation; it is the one that
            # writes a single file at opset 17, which is what we want here.
            warnings.simplefilter("ignore", DeprecationWarning)
            # Shape checks inside nn.MultiheadAttention are constants for a fixed window.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                encoder,
                (example,),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    onnx.checker.check_model(str(path))


def parity_inputs(
    sample: np.ndarray | None, window: int, n_features: int, sizes: Iterable[int], seed: int = 0
) -> list[np.ndarray]:
    """One batch per size: real windows from ``sample`` first, seeded N(0, 1) for the rest."""
    rng = np.random.default_rng(seed)
    real = np.empty((0, window, n_features), np.float32) if sample is None else sample
    batches = []
    for size in sizes:
        take = real[:size].astype(np.float32)
        fill = rng.standard_normal((size - len(take), window, n_features)).astype(np.float32)
        batches.append(np.concatenate([take, fill]))
    return batches


def check_parity(
    encoder: nn.Module,
    bundle: Bundle,
    batches: Sequence[np.ndarray],
    atol: float = PARITY_ATOL,
    member: int = 0,
) -> float:
    """Run ``batches`` through torch and the production :class:`~inferer.embed.Embedder`
    of the bundle's encoder ``member`` (0: ``model.onnx``).

    Returns the largest absolute difference.

    Raises
    ------
    ParityError
        Some output differs by more than ``atol`` (or has a different shape).
    """
    encoder = copy.deepcopy(encoder).cpu().eval()
    embedder = Embedder(bundle, threads=1, member=member)
    worst = 0.0
    for x in batches:
        with torch.inference_mode():
            want = encoder(torch.from_numpy(x)).numpy()
        got = embedder.embed(x)
        if got.shape != want.shape:
            raise ParityError(
                f"ONNX output shape {got.shape} != torch {want.shape} at batch {len(x)}"
            )
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        if not diff <= atol:  # also catches NaN
            raise ParityError(
                f"ONNX and torch encoders differ by {diff:.2e} > {atol:.0e} at batch {len(x)}; "
                "bundle not written"
            )
    return worst


def library_versions() -> dict[str, str]:
    """Versions recorded in the manifest."""
    versions = {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
    }
    try:
        versions["deepquant"] = metadata.version("deepquant")
    except metadata.PackageNotFoundError:
        versions["deepquant"] = shared.__version__
    return versions


def check_target(target: Path) -> None:
    """Refuse a bundle folder that could not be written: a file, or a folder of something else.

    Raises
    ------
    BundleError
        ``target`` is a file, or a non-empty folder that is not a bundle (a
        folder of walk-forward bundles, say), which is never overwritten.
    """
    if target.exists() and not target.is_dir():
        raise BundleError(f"model bundle {target}: exists and is not a folder")
    visible = target.is_dir() and any(not p.name.startswith(".") for p in target.iterdir())
    if visible and not is_bundle(target):
        raise BundleError(
            f"model bundle {target}: folder exists, is not empty and is not a bundle; "
            "choose another folder"
        )


def _staging_dir(target: Path) -> tuple[Path, bool]:
    """Where to build the bundle before it appears at ``target``, and whether that is inside it.

    Beside ``target`` normally, so the finished folder is renamed into place.
    Inside it when ``target`` is an existing empty folder: a container volume
    mounted at ``/models`` cannot be renamed and its parent is not writable.
    A non-empty folder that is not a bundle (a folder of walk-forward bundles,
    say) is never overwritten.
    """
    check_target(target)
    tag = uuid.uuid4().hex[:8]
    if target.is_dir() and not is_bundle(target):
        for stale in target.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return target / f".staging-{tag}", True
    target.parent.mkdir(parents=True, exist_ok=True)
    # What a killed export of this bundle left beside it goes first.
    for kind in ("tmp", "old"):
        for stale in target.parent.glob(f".{target.name}.{kind}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    return target.with_name(f".{target.name}.tmp-{tag}"), False


def _publish(tmp: Path, target: Path, inside: bool, models: Sequence[str]) -> None:
    """Make the staged bundle ``tmp`` appear at ``target`` whole."""
    if inside:
        # The manifest goes last: a folder counts as a bundle only once it has one.
        move_into(tmp, target, (*models, MANIFEST_NAME))
        tmp.rmdir()
    else:
        replace_dir(tmp, target)


def _add_members(
    tmp: Path, manifest: Manifest, members: Sequence[Member], batches: Sequence[np.ndarray]
) -> Manifest:
    """Export a seed ensemble's other encoders beside ``model.onnx``, each checked for parity."""
    for k, (encoder, seed, losses) in enumerate(members, start=1):
        file = tmp / f"model_{k}.onnx"
        export_onnx(encoder, file, manifest.window, len(manifest.feature_names))
        entry = {"file": file.name, "sha256": sha256_file(file), "seed": seed,
                 "losses": dict(losses)}  # fmt: skip
        manifest = dataclasses.replace(manifest, members=[*manifest.members, entry])
        entry["parity_max_abs_diff"] = check_parity(
            encoder, Bundle(tmp, manifest), batches, member=k
        )
    return manifest


def write_bundle(
    target: str | Path,
    encoder: nn.Module,
    *,
    features: FeatureSettings,
    scaler: Scaler,
    train_start: dt.date,
    train_end: dt.date,
    universe: Sequence[str],
    losses: dict[str, Any],
    latent: int,
    settings: dict[str, Any] | None = None,
    sample: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
    regime: Callable[[Bundle], dict[str, Any]] | None = None,
    members: Sequence[Member] = (),
) -> Bundle:
    """Export ``encoder``, verify it, and write the bundle folder ``target`` atomically.

    Parameters
    ----------
    target : path
        The bundle folder to create (an existing bundle there is replaced whole).
    encoder : torch.nn.Module
        Maps ``(batch, features.window, F)`` float32 to ``(batch, latent)``.
    features, scaler : settings and fitted scaler
        Recorded so inference builds exactly the same inputs.
    train_start, train_end : date
        Range of window end days the model was trained and validated on.
    universe : sequence of str
        Tickers used in training.
    losses : dict
        Train/validation/naive losses (see :meth:`trainer.train.FitResult.losses`).
    latent : int
        Embedding size.
    settings : dict, optional
        Config sections to record (model, train).
    sample : ndarray, optional
        Real scaled windows used (first) for the parity check.
    extra : dict, optional
        Free-form facts for the record.
    regime : callable, optional
        Fits the market-regime model the bundle carries (``RegimeModel.to_dict``)
        given the staged, checked bundle, whose encoders it may read.
    members : sequence of (encoder, seed, losses)
        A seed ensemble's other encoders, written beside ``model.onnx`` as
        ``model_<k>.onnx`` and listed in the manifest's ``members``.

    Raises
    ------
    ParityError
        torch and onnxruntime disagree by more than ``PARITY_ATOL``; nothing is written.
    """
    target = Path(target)
    tmp, inside = _staging_dir(target)
    tmp.mkdir()
    try:
        n_features = len(FEATURE_NAMES)
        model_path = tmp / MODEL_NAME
        export_onnx(encoder, model_path, features.window, n_features)
        manifest = Manifest(
            feature_names=tuple(FEATURE_NAMES),
            feature_params=feature_params(features),
            window=features.window,
            latent=latent,
            scaler=scaler.to_dict(),
            train_start=train_start.isoformat(),
            train_end=train_end.isoformat(),
            universe=tuple(universe),
            losses=dict(losses),
            model_sha256=sha256_file(model_path),
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
            opset=OPSET,
            versions=library_versions(),
            settings=settings or {},
            extra=dict(extra or {}),
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        batches = parity_inputs(sample, features.window, n_features, PARITY_BATCHES)
        worst = check_parity(encoder, Bundle(tmp, manifest), batches)
        manifest = _add_members(tmp, manifest, members, batches)
        manifest = dataclasses.replace(
            manifest,
            extra={**manifest.extra, "parity_max_abs_diff": worst},
            regime=regime(Bundle(tmp, manifest)) if regime is not None else {},
        )
        text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True, allow_nan=False)
        (tmp / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")
        load_bundle(tmp, features=features)  # read back exactly what inference will read
        _publish(tmp, target, inside, [p.name for p in Bundle(tmp, manifest).member_paths])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_bundle(target, features=features)
