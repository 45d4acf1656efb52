"""Inference: embed, cluster, select and allocate (no torch)."""
