"""The Transformer autoencoder, in one sitting.

::

    window (B, T, F)
      -> Linear(F, d_model) + sinusoidal position      (B, T, d_model)
      -> TransformerEncoder(n_layers)                   (B, T, d_model)
      -> mean over T -> Linear(d_model, latent)         (B, latent)      <- the embedding
      -> Decoder(latent)                                (B, T, F)

The decoder sees the latent vector and nothing else: there is no skip path
from the encoder tokens, so everything the reconstruction needs must pass
through ``latent`` numbers. (Decoding each day from its own encoder token, as
a seed project did, lets the latent carry nothing.)

Two decoders, both latent-only:

- ``"mlp"`` (default): latent -> d_ff -> d_ff -> T*F. About twice as fast as
  the transformer decoder on CPU for the same reconstruction (docs/design.md,
  measured points).
- ``"transformer"``: latent -> d_model, broadcast to T positions + position
  code -> n_layers encoder layers -> Linear(d_model, F).

Denoising (``noise_std``, ``mask_prob``) lives in :func:`corrupt`, applied by
the training loop to the input only; the target stays the clean window.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from shared.config import ModelSettings


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """Fixed sine/cosine position code, shape ``(length, dim)``."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    code = torch.zeros(length, dim)
    code[:, 0::2] = torch.sin(pos * freq)
    code[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return code


def _layers(s: ModelSettings) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        d_model=s.d_model,
        nhead=s.n_heads,
        dim_feedforward=s.d_ff,
        dropout=s.dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,  # pre-norm trains stably at the high LR a short schedule needs
    )
    # Nested tensors only help with padding masks, which fixed-length windows never have.
    return nn.TransformerEncoder(layer, s.n_layers, enable_nested_tensor=False)


class Encoder(nn.Module):
    """``(B, T, F)`` window -> ``(B, latent)`` embedding. This is what ships as ONNX."""

    def __init__(self, s: ModelSettings, window: int, n_features: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, s.d_model)
        self.register_buffer("pos", sinusoidal_positions(window, s.d_model), persistent=False)
        self.layers = _layers(s)
        self.norm = nn.LayerNorm(s.d_model)
        self.to_latent = nn.Linear(s.d_model, s.latent)

    def forward(self, x: Tensor) -> Tensor:
        h = self.layers(self.embed(x) + self.pos)
        return self.to_latent(self.norm(h).mean(dim=1))


class MLPDecoder(nn.Module):
    """``(B, latent)`` -> ``(B, T, F)`` through two hidden layers of ``d_ff``."""

    def __init__(self, s: ModelSettings, window: int, n_features: int) -> None:
        super().__init__()
        self.shape = (window, n_features)
        self.net = nn.Sequential(
            nn.Linear(s.latent, s.d_ff),
            nn.GELU(),
            nn.Linear(s.d_ff, s.d_ff),
            nn.GELU(),
            nn.Linear(s.d_ff, window * n_features),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class TransformerDecoder(nn.Module):
    """``(B, latent)`` -> ``(B, T, F)``: the latent, copied to every position, attends to itself."""

    def __init__(self, s: ModelSettings, window: int, n_features: int) -> None:
        super().__init__()
        self.window = window
        self.from_latent = nn.Linear(s.latent, s.d_model)
        self.register_buffer("pos", sinusoidal_positions(window, s.d_model), persistent=False)
        self.layers = _layers(s)
        self.norm = nn.LayerNorm(s.d_model)
        self.out = nn.Linear(s.d_model, n_features)

    def forward(self, z: Tensor) -> Tensor:
        h = self.from_latent(z).unsqueeze(1).expand(-1, self.window, -1) + self.pos
        return self.out(self.norm(self.layers(h)))


class Autoencoder(nn.Module):
    """Encoder + latent-only decoder.

    Parameters
    ----------
    settings : ModelSettings
        Sizes, dropout and decoder kind.
    window, n_features : int
        Input shape per sample, ``(window, n_features)``.
    """

    def __init__(self, settings: ModelSettings, window: int, n_features: int) -> None:
        super().__init__()
        self.settings = settings
        self.window = window
        self.n_features = n_features
        self.encoder = Encoder(settings, window, n_features)
        decoder_cls = MLPDecoder if settings.decoder == "mlp" else TransformerDecoder
        self.decoder = decoder_cls(settings, window, n_features)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def corrupt(x: Tensor, noise_std: float, mask_prob: float) -> Tensor:
    """Denoising input: add Gaussian noise, zero whole time steps with ``mask_prob``.

    Zero is the scaled features' training mean, so a masked day reads as "average".
    Uses torch's global generator, so a seeded run stays reproducible.
    """
    if noise_std > 0:
        x = x + noise_std * torch.randn_like(x)
    if mask_prob > 0:
        keep = torch.rand(x.shape[0], x.shape[1], 1, device=x.device) >= mask_prob
        x = x * keep
    return x


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
