"""The autoencoder's shapes and, above all, its bottleneck."""

from __future__ import annotations

import pytest
import torch

from shared.config import ModelSettings
from trainer.model import Autoencoder, corrupt, count_parameters, sinusoidal_positions

WINDOW, FEATURES = 12, 5
TINY = {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "latent": 3}


def _model(decoder: str = "mlp", **kw: object) -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(ModelSettings(**{**TINY, "decoder": decoder, **kw}), WINDOW, FEATURES).eval()


@pytest.mark.parametrize("decoder", ["mlp", "transformer"])
def test_shapes(decoder: str) -> None:
    model = _model(decoder)
    x = torch.randn(4, WINDOW, FEATURES)
    assert model.encode(x).shape == (4, TINY["latent"])
    assert model(x).shape == x.shape
    assert count_parameters(model) > 0


def test_default_sizes_come_from_config() -> None:
    model = Autoencoder(ModelSettings(), 30, 5)
    assert model.encoder.to_latent.out_features == 64
    assert len(model.encoder.layers.layers) == 2
    layer = model.encoder.layers.layers[0]
    assert layer.self_attn.num_heads == 4 and layer.linear1.out_features == 128


@pytest.mark.parametrize("decoder", ["mlp", "transformer"])
def test_reconstruction_depends_on_latent_only(decoder: str) -> None:
    """Swap the latent of x1 for that of x2: the output becomes x2's reconstruction exactly.

    If any path led from x1's encoder tokens to the decoder, the result would still
    depend on x1.
    """
    model = _model(decoder)
    x1, x2 = torch.randn(3, WINDOW, FEATURES), torch.randn(3, WINDOW, FEATURES)
    with torch.no_grad():
        z2 = model.encode(x2)
        handle = model.encoder.register_forward_hook(lambda *_: z2)
        swapped = model(x1)
        handle.remove()
        torch.testing.assert_close(swapped, model(x2), rtol=0, atol=0)
        # ... and changing the latent changes the reconstruction.
        assert not torch.allclose(model.decode(z2), model.decode(z2 + 0.5))


@pytest.mark.parametrize("decoder", ["mlp", "transformer"])
def test_jacobian_rank_is_bounded_by_latent(decoder: str) -> None:
    """d(output)/d(input) factors through the latent, so its rank is at most ``latent``."""
    model = _model(decoder)
    x = torch.randn(WINDOW, FEATURES)
    jac = torch.autograd.functional.jacobian(lambda w: model(w.unsqueeze(0))[0], x)
    jac = jac.reshape(WINDOW * FEATURES, WINDOW * FEATURES).double()
    assert int(torch.linalg.matrix_rank(jac, atol=1e-6)) <= TINY["latent"]


def test_corrupt() -> None:
    x = torch.ones(64, WINDOW, FEATURES)
    assert corrupt(x, 0.0, 0.0) is x
    torch.manual_seed(0)
    noisy = corrupt(x, 0.1, 0.0)
    assert 0.05 < float((noisy - x).std()) < 0.15
    masked = corrupt(x, 0.0, 0.5)
    per_step = masked[..., 0]
    # Whole days are zeroed, all features of that day together.
    assert torch.equal(masked, per_step.unsqueeze(-1).expand_as(masked))
    assert 0.3 < float((per_step == 0).float().mean()) < 0.7


def test_positions() -> None:
    code = sinusoidal_positions(30, 7)
    assert code.shape == (30, 7)
    assert torch.equal(code[0, 0::2], torch.zeros(4))
    assert len({tuple(row.tolist()) for row in code}) == 30
