"""deepquant shared layer: config, universe, prices, features, bundle, metrics.

Used by both containers; imports neither torch nor onnxruntime.
"""

__version__ = "0.1.0"
