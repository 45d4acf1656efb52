"""The training loop: AdamW, warmup + cosine LR, early stopping, best checkpoint, seeds.

:func:`fit` takes windows that are already scaled and split in time (see
:mod:`trainer.walkforward`) and returns the best model by validation loss
together with its loss curve and the naive baseline to beat.

Reproducibility: the model is initialised after ``torch.manual_seed(seed)``,
batches are shuffled by a NumPy generator seeded with the same seed, and on
CPU ``torch.use_deterministic_algorithms`` is on, so the same seed and data
give the same loss curve (on the same machine and thread count).

Why the defaults (``[train]`` stride 4, batch 64, 6 epochs, 1 thread; ``[model]``
dropout 0, MLP decoder): on the 338-asset panel over two years they train in
about 2 minutes on a busy 2-core CPU and reach a validation loss ~14% of the
naive baseline (``benchmarks/train.py``). Consecutive windows of one asset
share 29 of 30 days, so a stride of 4 drops little information while cutting
work 4x; at fixed cost, small batches give more optimiser steps, which mattered
more than unique windows (stride 4/batch 64/6 epochs: val 0.150 vs stride
2/batch 512/8 epochs: 0.197 in 3x the time). Dropout masks cost a third of a
CPU step and a transformer decoder halves throughput (docs/design.md, measured
points); one thread beats two under contention. ``max_minutes = 4.5`` is only a safety net.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor

from shared.config import ModelSettings, TrainSettings
from shared.errors import ConfigError
from trainer.model import Autoencoder, corrupt

log = logging.getLogger("deepquant.train")

#: Batch size for loss evaluation; no gradients, so larger is cheaper per window.
EVAL_BATCH = 1024
#: Share of all steps spent warming the learning rate up linearly.
WARMUP_FRACTION = 0.05
#: The cosine schedule ends at this fraction of the peak learning rate.
FINAL_LR_FRACTION = 0.05


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : Autoencoder
        The best model by validation loss, in eval mode, on the CPU.
    history : list of dict
        One dict per epoch: ``epoch, train_loss, val_loss, lr, seconds, windows_per_s``.
        ``train_loss`` is the running mean over the epoch's batches (denoised inputs
        when denoising is on); ``val_loss`` is the clean validation MSE.
    naive_train, naive_val : float
        MSE of predicting each feature's training mean, on train and validation windows.
    train_loss, val_loss : float
        Clean MSE of the best model on all train and validation windows.
    best_epoch : int
        1-based epoch whose weights were kept.
    windows_per_s : float
        Training windows per second over the optimisation steps (no evaluation).
    wall_s : float
        Total wall time of :func:`fit`.
    device : str
        ``"cpu"`` or ``"cuda"``.
    stopped : str
        Why training ended: ``"epochs"``, ``"early_stopping"`` or ``"max_minutes"``.
    """

    model: Autoencoder
    history: list[dict[str, float]]
    naive_train: float
    naive_val: float
    train_loss: float
    val_loss: float
    best_epoch: int
    windows_per_s: float
    wall_s: float
    device: str
    stopped: str
    n_train: int = 0
    n_val: int = 0

    def losses(self) -> dict[str, float | int]:
        """Loss summary for the manifest."""
        return {
            "train": self.train_loss,
            "val": self.val_loss,
            "naive_train": self.naive_train,
            "naive_val": self.naive_val,
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
        }


def pick_device(requested: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("[train] device is 'cuda' but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def naive_losses(train: np.ndarray, val: np.ndarray) -> tuple[float, float]:
    """MSE of predicting each feature's training mean, on train and on validation."""
    mean = train.reshape(-1, train.shape[-1]).mean(axis=0, dtype=np.float64)
    return float(((train - mean) ** 2).mean()), float(((val - mean) ** 2).mean())


def lr_factor(step: int, total: int) -> float:
    """Linear warmup, then cosine decay to ``FINAL_LR_FRACTION`` of the peak."""
    warmup = max(1, int(WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.inference_mode()
def evaluate(model: Autoencoder, windows: Tensor, batch: int = EVAL_BATCH) -> float:
    """Mean squared reconstruction error over ``windows`` (eval mode, no denoising)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(windows), batch):
        x = windows[i : i + batch]
        total += float(torch.nn.functional.mse_loss(model(x), x, reduction="sum"))
    model.train(was_training)
    return total / max(1, windows.numel())


@contextmanager
def _torch_state(threads: int, deterministic: bool) -> Iterator[None]:
    """Set torch's thread count and determinism for the run, then restore them."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    if threads > 0:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise (logs stay clean)."""

    def __init__(self, stream: TextIO | None, total: int, label: str) -> None:
        self.stream, self.total, self.label = stream, total, label
        self.last = 0.0

    def update(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if self.stream is None or (now - self.last < 0.2 and done < self.total):
            return
        self.last = now
        filled = int(30 * done / self.total)
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} loss {loss:.4f}")
        if done >= self.total:
            self.stream.write("\r" + " " * (len(self.label) + 60) + "\r")
        self.stream.flush()


@dataclass
class _Loop:
    """What one training run works on: the model, its optimiser and the data on the device."""

    model: Autoencoder
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    x_train: Tensor
    x_val: Tensor
    #: Windows per epoch: all of ``x_train``, or a fresh sample of this many.
    per_epoch: int
    batch: int
    steps_per_epoch: int
    rng: np.random.Generator
    noise_std: float
    mask_prob: float
    #: bfloat16 autocast for the forward pass and the loss.
    bf16: bool = False

    @property
    def denoise(self) -> bool:
        return self.noise_std > 0 or self.mask_prob > 0

    def autocast(self) -> Any:
        """The steps' arithmetic: bfloat16 autocast when asked, else float32 as it is."""
        device = self.x_train.device.type
        return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=self.bf16)


def _setup(
    train_windows: np.ndarray,
    val_windows: np.ndarray,
    model_settings: ModelSettings,
    ts: TrainSettings,
    device: torch.device,
) -> _Loop:
    # Seeds first: the model's initial weights and the batch order follow from them.
    torch.manual_seed(ts.seed)
    rng = np.random.default_rng(ts.seed)
    _, window, n_features = train_windows.shape
    model = Autoencoder(model_settings, window, n_features).to(device)
    # The whole set fits in memory (150k windows = 90 MB); one copy avoids per-batch copies.
    x_train = torch.as_tensor(np.ascontiguousarray(train_windows, dtype=np.float32)).to(device)
    x_val = torch.as_tensor(np.ascontiguousarray(val_windows, dtype=np.float32)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=ts.lr, weight_decay=ts.weight_decay)
    per_epoch = min(len(x_train), ts.max_windows or len(x_train))
    batch = min(ts.batch_size, per_epoch)
    steps_per_epoch = math.ceil(per_epoch / batch)
    total_steps = steps_per_epoch * ts.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total_steps))
    return _Loop(
        model, opt, sched, x_train, x_val, per_epoch, batch, steps_per_epoch, rng,
        model_settings.noise_std, model_settings.mask_prob, ts.precision == "bf16",
    )  # fmt: skip


def _train_epoch(loop: _Loop, epoch: int, show: bool) -> tuple[float, float]:
    """One pass over the shuffled training windows; (mean train loss, seconds of steps)."""
    t0 = time.perf_counter()
    model, x_train, batch = loop.model, loop.x_train, loop.batch
    model.train()
    drawn = loop.rng.permutation(len(x_train))[: loop.per_epoch]
    order = torch.as_tensor(drawn).to(x_train.device)
    bar = _Progress(sys.stderr if show else None, loop.steps_per_epoch, f"epoch {epoch}")
    running = torch.zeros((), device=x_train.device)
    for step in range(loop.steps_per_epoch):
        x = x_train[order[step * batch : (step + 1) * batch]]
        inp = corrupt(x, loop.noise_std, loop.mask_prob) if loop.denoise else x
        with loop.autocast():
            loss = torch.nn.functional.mse_loss(model(inp), x)
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loop.opt.step()
        loop.sched.step()
        # Summing on-device avoids a GPU sync per step; weight by batch length.
        running += loss.detach() * len(x)
        if show:
            bar.update(step + 1, float(loss.detach()))
    return float(running) / loop.per_epoch, time.perf_counter() - t0


@dataclass
class _Epochs:
    """The loop's record: history, the best weights so far, and why it stopped."""

    history: list[dict[str, float]]
    best_val: float
    best_epoch: int
    best_state: dict[str, Any]
    stopped: str = "epochs"
    train_seconds: float = 0.0


def _run_epochs(
    loop: _Loop, ts: TrainSettings, naive_val: float, show: bool, start: float
) -> _Epochs:
    """Epochs with early stopping on validation loss and a wall-time cap."""
    run = _Epochs([], math.inf, 0, copy.deepcopy(loop.model.state_dict()))
    stale = 0
    for epoch in range(1, ts.epochs + 1):
        t0 = time.perf_counter()
        train_loss, step_seconds = _train_epoch(loop, epoch, show)
        run.train_seconds += step_seconds
        val_loss = evaluate(loop.model, loop.x_val)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "lr": loop.opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t0,
            "windows_per_s": loop.per_epoch / step_seconds,
        }
        run.history.append(row)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (train {train_loss}, val {val_loss}); "
                "lower [train] lr"
            )
        improved = val_loss < run.best_val
        log.info(
            "epoch %d/%d train %.4f val %.4f (naive %.4f)%s lr %.1e %.1fs %.0f windows/s",
            epoch, ts.epochs, train_loss, val_loss, naive_val, " *" if improved else "",
            row["lr"], row["seconds"], row["windows_per_s"],
        )  # fmt: skip
        if improved:
            run.best_val, run.best_epoch, stale = val_loss, epoch, 0
            run.best_state = copy.deepcopy(loop.model.state_dict())
        else:
            stale += 1
        if stale >= ts.patience:
            run.stopped = "early_stopping"
            break
        if ts.max_minutes and time.perf_counter() - start > 60 * ts.max_minutes:
            run.stopped = "max_minutes"
            log.warning(
                "stopping after epoch %d: [train] max_minutes = %g reached", epoch, ts.max_minutes
            )
            break
    return run


def fit(
    train_windows: np.ndarray,
    val_windows: np.ndarray,
    model_settings: ModelSettings,
    train_settings: TrainSettings,
    *,
    progress: bool | None = None,
) -> FitResult:
    """Train an autoencoder on scaled windows; keep the weights with the best validation loss.

    Parameters
    ----------
    train_windows, val_windows : ndarray, shape (n, window, n_features)
        Finite, scaled windows. Validation must come after training in time.
    model_settings, train_settings : settings
        Sizes; epochs, batch size, AdamW hyper-parameters, patience, seed, threads, device.
    progress : bool, optional
        Draw a progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    FitResult
    """
    start = time.perf_counter()
    ts = train_settings
    if train_windows.ndim != 3 or len(train_windows) == 0 or len(val_windows) == 0:
        raise ValueError(
            f"need non-empty (n, window, features) train and validation windows, got "
            f"{train_windows.shape} and {val_windows.shape}"
        )
    device = pick_device(ts.device)
    naive_train, naive_val = naive_losses(train_windows, val_windows)
    show = sys.stderr.isatty() if progress is None else progress

    with _torch_state(ts.threads, deterministic=device.type == "cpu"):
        loop = _setup(train_windows, val_windows, model_settings, ts, device)
        run = _run_epochs(loop, ts, naive_val, show, start)
        loop.model.load_state_dict(run.best_state)
        # Every step-th training window: all of them unless an epoch samples a subset.
        step = math.ceil(len(loop.x_train) / loop.per_epoch)
        final_train = evaluate(loop.model, loop.x_train[::step])
        model = loop.model.cpu().eval()
    wall = time.perf_counter() - start
    log.info(
        "best epoch %d: train %.4f val %.4f vs naive %.4f/%.4f; %d epochs in %.1fs (%s)",
        run.best_epoch, final_train, run.best_val, naive_train, naive_val,
        len(run.history), wall, run.stopped,
    )  # fmt: skip
    return FitResult(
        model=model,
        history=run.history,
        naive_train=naive_train,
        naive_val=naive_val,
        train_loss=final_train,
        val_loss=run.best_val,
        best_epoch=run.best_epoch,
        windows_per_s=loop.per_epoch * len(run.history) / max(run.train_seconds, 1e-9),
        wall_s=wall,
        device=device.type,
        stopped=run.stopped,
        n_train=len(train_windows),
        n_val=len(val_windows),
    )
