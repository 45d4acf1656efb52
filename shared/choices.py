"""Every set of option values, defined once.

The config (:mod:`shared.config`) types its fields with these ``Literal``
aliases, and each module that implements a set reads its values with
:func:`typing.get_args`, so the settings a user may write and the ones the
code can run are the same list by construction; ``tests/shared/test_choices.py``
checks every implementation covers its set exactly.
"""

from __future__ import annotations

from typing import Literal

#: Price sources (:mod:`shared.prices`).
Source = Literal["yahoo", "panel", "sample"]
#: Autoencoder decoders (``trainer.model``).
Decoder = Literal["mlp", "transformer"]
#: Training devices (``trainer.train.pick_device``).
Device = Literal["auto", "cpu", "cuda"]
#: Arithmetic of the training steps (``trainer.train``): float32, or bfloat16
#: autocast for the forward pass and the loss (weights and optimiser stay float32).
Precision = Literal["float32", "bf16"]
#: Agglomerative linkage criteria (``inferer.cluster``).
Linkage = Literal["ward", "average", "complete", "single"]
#: What ranks the assets of a cluster (``inferer.select``).
Signal = Literal["sharpe", "momentum"]
#: Weights of a cluster's picks inside it (``inferer.construct``).
Within = Literal["equal", "inverse_vol"]
#: Allocation methods across clusters (``inferer.allocate``).
Method = Literal["hrp", "risk_parity", "max_sharpe", "min_vol", "inverse_vol", "equal"]
#: Covariance estimators (``inferer.moments``).
Covariance = Literal["ledoit_wolf", "sample", "ewma"]
#: Methods allowed as a fallback: they cannot be infeasible.
Fallback = Literal["hrp", "inverse_vol", "equal"]
#: Rebalance schedules (``backtest.accounting.rebalance_indices``).
Rebalance = Literal["weekly", "monthly", "quarterly"]
#: What uninvested cash earns in a backtest.
Cash = Literal["risk_free", "zero"]
#: What cleaning does with an asset whose prices look wrong (``shared.prices.clean``).
Suspect = Literal["drop", "keep"]
#: Which variants of a sweep get their charts and report drawn (``sweep.reports``).
Reports = Literal["best", "all", "none"]
#: Market-regime models (``shared.regime``); "none" turns the regime layer off.
RegimeKind = Literal["none", "jump", "hmm", "trend"]
#: What a regime model reads (``shared.regime``): the benchmark's return features, the
#: principal components of its window's embedding by the bundle's encoder, or both.
RegimeFeatures = Literal["returns", "autoencoder", "both"]
#: What the regime layer scales the risky book by (``inferer.regime``): the state
#: read (stressed or not), or the probability of stress (graded; the HMM's).
RegimeExposure = Literal["state", "probability"]
#: When a change of regime between rebalances trades (``backtest.regime_trades``).
RegimeTiming = Literal["daily", "rebalance"]
#: How often clusters are built afresh (``inferer.stable``): at each decision, or
#: when the decision's month or quarter is not the last clusters'.
Recluster = Literal["each", "monthly", "quarterly"]
#: Backtest baselines (``backtest.baselines.BASELINES``).
Baseline = Literal[
    "equal_weight",
    "sixty_forty",
    "inverse_vol",
    "hrp_all",
    "max_sharpe_all",
    "momentum",
    "corr_cluster",
    "class_cluster",
    "random_cluster",
]

#: Fewest clusters a clustering may have: one cluster selects nothing.
MIN_CLUSTERS = 2
