"""A fast config on the embedded sample: for tests of the machinery, not of the model."""

from __future__ import annotations

#: The sample config with a tiny model and one epoch.
FAST = """
[data]
source = "sample"
start = 2014-01-01
benchmark = "SP500"
[model]
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
latent = 8
[train]
train_years = 2
epochs = 1
stride = 3
[inference]
n_clusters = "auto"
min_clusters = 3
max_clusters = 8
"""
