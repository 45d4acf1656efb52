"""deepquant trainer: the Transformer autoencoder, its training loop and ONNX bundle export.

The only package that imports torch. Modules: ``model`` (the network),
``train`` (the loop), ``export`` (ONNX + bundle writing), ``walkforward``
(prices -> bundles), ``cli`` (``deepquant train``).
"""
