"""TOML configuration -> validated, typed settings.

Every section is a pydantic model that forbids unknown keys, so a typo is an
error naming the key instead of a silently ignored setting. Relative paths in
a config file are resolved against the file's own folder.

Example
-------
>>> from shared.config import load_settings
>>> settings = load_settings("configs/sample.toml")  # doctest: +SKIP
>>> settings.features.window  # doctest: +SKIP
30
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.choices import (
    MIN_CLUSTERS,
    Baseline,
    Cash,
    Covariance,
    Decoder,
    Device,
    Fallback,
    Linkage,
    Method,
    Precision,
    Rebalance,
    Recluster,
    RegimeExposure,
    RegimeFeatures,
    RegimeKind,
    RegimeTiming,
    Signal,
    Source,
    Suspect,
    Within,
)
from shared.errors import ConfigError

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(_Section):
    """Where prices come from and how they are cleaned."""

    source: Source = "sample"
    #: Panel file (CSV, CSV.gz or parquet) for ``source = "panel"``.
    path: Path | None = None
    #: Universe file (TOML) for ``source = "yahoo"``; a panel's universe is its columns.
    universe: Path | None = None
    start: dt.date = dt.date(2015, 1, 1)
    #: Last date to load; ``None`` means up to the latest available.
    end: dt.date | None = None
    cache_dir: Path = Path("data/cache")
    #: Benchmark ticker (must be in the data for backtests).
    benchmark: str = "SPY"
    #: "benchmark": the benchmark's trading days (FX pairs trade on US holidays;
    #: a US benchmark's calendar drops those days, and an FX move across one
    #: counts on the next); "union": every date any asset traded; a ticker:
    #: that ticker's trading days.
    calendar: str = "benchmark"
    #: Longest run of missing days filled with the last price.
    ffill_limit: NonNegInt = 5
    #: Assets with fewer valid prices than this are dropped, with a warning.
    min_history: PositiveInt = 100
    #: A one-day move beyond this (1.0: x2 or x0.5) that the next day takes back
    #: by more than half is a bad tick (0 turns the check off). 0.5 would flag
    #: a real March-2020 move in the shared panel (TRGP -34%, +46% the next day).
    max_jump: NonNegFloat = 1.0
    #: A price unchanged for more than this many days is a stale series (0: off).
    max_stale_days: NonNegInt = 30
    #: "drop": an asset with a bad tick or a stale stretch leaves the run, with a
    #: warning and the reason in the run JSON; "keep": only the warning.
    suspect_prices: Suspect = "drop"
    #: Fraction of requested tickers that must come back from Yahoo.
    min_coverage: Fraction = 0.9
    #: Yahoo download chunk size, retries, and the first back-off delay in seconds.
    chunk_size: PositiveInt = 50
    retries: NonNegInt = 3
    backoff_seconds: NonNegFloat = 2.0
    #: Each back-off is stretched by up to this fraction at random, so that
    #: parallel jobs do not retry in step.
    backoff_jitter: Annotated[float, Field(ge=0, le=1)] = 0.25

    @model_validator(mode="after")
    def _check(self) -> DataSettings:
        if self.source == "panel" and self.path is None:
            raise ValueError("source 'panel' needs 'path' (a CSV, CSV.gz or parquet file)")
        if self.source == "yahoo" and self.universe is None:
            raise ValueError("source 'yahoo' needs 'universe' (a universe TOML file)")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class FeatureSettings(_Section):
    """Close-only features and window length."""

    window: Annotated[int, Field(ge=2)] = 30
    rsi_period: Annotated[int, Field(ge=2)] = 14
    macd_fast: PositiveInt = 12
    macd_slow: PositiveInt = 26
    macd_signal: PositiveInt = 9
    vol_window: Annotated[int, Field(ge=2)] = 20
    drawdown_window: Annotated[int, Field(ge=2)] = 63
    #: Scaled features are clipped to +-clip standard deviations.
    clip: PositiveFloat = 5.0

    @model_validator(mode="after")
    def _check(self) -> FeatureSettings:
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be < macd_slow ({self.macd_slow})")
        return self


class ModelSettings(_Section):
    """Transformer autoencoder sizes."""

    d_model: PositiveInt = 64
    n_heads: PositiveInt = 4
    n_layers: PositiveInt = 2
    d_ff: PositiveInt = 128
    latent: PositiveInt = 64
    dropout: Fraction = 0.0
    decoder: Decoder = "mlp"
    #: Denoising: std of Gaussian noise added to scaled inputs during training.
    noise_std: NonNegFloat = 0.0
    #: Denoising: probability of zeroing each input time step during training.
    mask_prob: Annotated[float, Field(ge=0, lt=1)] = 0.0

    @model_validator(mode="after")
    def _check(self) -> ModelSettings:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        return self


class TrainSettings(_Section):
    """Training loop."""

    start: dt.date | None = None
    end: dt.date | None = None
    #: Trailing training span for walk-forward bundles, in years.
    train_years: PositiveFloat = 2.0
    #: Last fraction of the training period (in time) kept for validation.
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.15
    #: Days between consecutive training windows of the same asset.
    stride: PositiveInt = 4
    epochs: PositiveInt = 6
    #: Windows one epoch trains on, drawn afresh (seeded) each epoch when the
    #: period holds more; at most ``epochs x max_windows`` training and
    #: ``max_windows`` validation windows are kept in memory. 0: no cap. The
    #: default leaves the 338-asset panel (~36,000 windows over two years) whole
    #: and keeps a 10,000-asset universe to the same time per epoch.
    max_windows: NonNegInt = 50_000
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 2e-3
    weight_decay: NonNegFloat = 1e-4
    patience: PositiveInt = 3
    seed: int = 0
    #: A seed ensemble: this many models per bundle, seeds seed, seed + 1, ...; inference
    #: clusters the mean of their distances (``inferer.embed.Embedder``). 1: one model.
    seeds: Annotated[int, Field(ge=1, le=16)] = 1
    #: Torch intra-op threads; 0 lets torch decide.
    threads: NonNegInt = 1
    #: Cap on wall time; training stops after the epoch that crosses it (0: no cap).
    max_minutes: NonNegFloat = 4.5
    device: Device = "auto"
    #: "bf16": the forward pass and the loss in bfloat16 autocast (on a GPU with
    #: bfloat16 units, faster), weights, optimiser and validation in float32.
    precision: Precision = "float32"

    @model_validator(mode="after")
    def _check(self) -> TrainSettings:
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class InferenceSettings(_Section):
    """Embedding, clustering, selection and allocation."""

    #: onnxruntime intra-op threads (338 windows: ~35 ms with 2, ~47 ms with 1 on 2 cores).
    onnx_threads: PositiveInt = 2
    #: Number of clusters, or "auto" for the best silhouette in [min_clusters, max_clusters].
    n_clusters: int | Literal["auto"] = "auto"
    min_clusters: Annotated[int, Field(ge=MIN_CLUSTERS)] = 4
    max_clusters: Annotated[int, Field(ge=MIN_CLUSTERS)] = 20
    linkage: Linkage = "ward"
    #: Most assets the clustering tree is built on; above it, a seeded sample of
    #: this many, the others joining their nearest sampled neighbour's cluster.
    #: The tree is O(n^2) in time and memory: 2,000 assets take 0.2 s, 3,000
    #: 0.4-0.6 s, 10,000 5.4 s and 800 MB here.
    tree_sample: Annotated[int, Field(ge=MIN_CLUSTERS + 1)] = 2000
    #: Cluster stability: each asset is clustered by the mean of its embeddings
    #: on the last embed_days trading days up to the decision date (1: that day's).
    embed_days: Annotated[int, Field(ge=1, le=63)] = 1
    #: Cluster stability, distances smoothed over time (evolutionary clustering):
    #: cluster on the mean of the squared distances between normalised embeddings
    #: of the windows ending on the decision date and 21, 42, ... trading days
    #: before it, smooth_months windows in all (1: the decision date's alone).
    smooth_months: Annotated[int, Field(ge=1, le=12)] = 1
    #: Most assets the silhouettes of the cluster-count search are scored on.
    silhouette_sample: Annotated[int, Field(ge=MIN_CLUSTERS + 1)] = 2000
    #: Cluster stability (``inferer.stable``), all off by default: build clusters
    #: afresh at each decision, or only in a new month or quarter (between, names
    #: keep their clusters and new names join the nearest); keep the last number of
    #: clusters unless the best silhouette beats it by more than k_margin; number
    #: clusters as the last ones they overlap most.
    recluster: Recluster = "each"
    k_margin: NonNegFloat = 0.0
    match_clusters: bool = False
    #: Trailing days of returns for selection Sharpe and covariance.
    lookback: Annotated[int, Field(ge=20)] = 252
    #: Minimum days of returns an asset needs to be selected.
    min_history: Annotated[int, Field(ge=20)] = 126
    #: Assets with a trailing annualised volatility below this are cash-like
    #: (T-bill funds) and never selected; 0 turns the rule off.
    min_vol: NonNegFloat = 0.01
    #: Annual risk-free rate as a fraction (0.04 for 4%; under 0.5) or a cash
    #: proxy ticker such as "BIL".
    risk_free: Annotated[float, Field(gt=-0.1, lt=0.5)] | str = 0.0
    #: With a proxy ticker: the annual rate of the days it has no price (before it
    #: lists, say), recorded in the run's notes; none: those days have no rate.
    risk_free_fallback: Annotated[float, Field(gt=-0.1, lt=0.5)] | None = None
    #: What ranks a cluster's assets: trailing excess Sharpe or 12-1 momentum.
    signal: Signal = "sharpe"
    #: Assets picked per cluster, or "all" for the whole cluster.
    top_n: PositiveInt | Literal["all"] = 1
    #: Hysteresis: an asset held before stays while it ranks within top_n + keep_margin.
    keep_margin: NonNegInt = 0
    #: A pick whose trailing excess return is not positive gives its weight to cash.
    absolute_filter: bool = False
    #: Weights of a cluster's picks inside the cluster.
    within: Within = "equal"
    #: Allocation across clusters (with one pick each: across the picks).
    method: Method = "hrp"
    #: Covariance of risk parity, min-vol, max-Sharpe, the vol target and ex-ante risk.
    covariance: Covariance = "ledoit_wolf"
    #: Largest weight of one asset (1.0: no cap).
    max_weight: Annotated[float, Field(gt=0, le=1)] = 1.0
    #: Largest total weight of one cluster, and of one asset class (1.0: no cap).
    max_cluster_weight: Annotated[float, Field(gt=0, le=1)] = 1.0
    max_class_weight: Annotated[float, Field(gt=0, le=1)] = 1.0
    #: Annual ex-ante volatility the risky weights are scaled down to, the
    #: rest in cash (0: off; never leveraged up).
    vol_target: NonNegFloat = 0.0
    #: Method used when the optimiser fails.
    fallback: Fallback = "inverse_vol"

    @model_validator(mode="after")
    def _check(self) -> InferenceSettings:
        if isinstance(self.n_clusters, int) and self.n_clusters < MIN_CLUSTERS:
            raise ValueError(
                f"n_clusters must be >= {MIN_CLUSTERS} or 'auto', got {self.n_clusters}"
            )
        if self.min_clusters > self.max_clusters:
            raise ValueError(
                f"min_clusters ({self.min_clusters}) > max_clusters ({self.max_clusters})"
            )
        return self


class TradingSettings(_Section):
    """What a rebalance really trades, live and in the backtest alike (``inferer.trading``)."""

    #: No trade when moving to the target would turn over less than this (one-way).
    no_trade_band: Fraction = 0.0
    #: A name held before and after keeps its weight when it would move by less than this.
    asset_band: Fraction = 0.0
    #: Fraction of the way from the drifted book to the target traded at each rebalance.
    trade_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    #: Largest one-way turnover of one rebalance, spent on the largest trades (0: no cap).
    max_turnover: Fraction = 0.0


#: Settings that moved, and where to: an old config gets one line saying so.
MOVED = {
    ("backtest", "no_trade_band"): "trading",
    ("backtest", "trade_fraction"): "trading",
}


class BacktestSettings(_Section):
    """Walk-forward backtest."""

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        for (section, key), home in MOVED.items():
            if section == "backtest" and isinstance(data, dict) and key in data:
                raise ValueError(f"{key} moved to [{home}] (it acts on live trades too)")
        return data

    rebalance: Rebalance = "monthly"
    #: Trading days between a decision (at a close) and its trade (at a later
    #: close): 1 as a cron job run after the close trades the next day; 0 trades
    #: at the decision's own close, as the seed projects did.
    execution_lag: Annotated[int, Field(ge=0, le=21)] = 1
    #: Costs per unit of turnover, in basis points (under 1,000: 10%).
    cost_bps: Annotated[float, Field(ge=0, lt=1000)] = 10.0
    slippage_bps: Annotated[float, Field(ge=0, lt=1000)] = 0.0
    #: Uninvested cash earns the risk-free rate ("risk_free") or nothing ("zero").
    cash: Cash = "zero"
    baselines: tuple[Baseline, ...] = get_args(Baseline)
    frontier_portfolios: PositiveInt = 10_000
    #: Seed of the frontier's portfolios and of the Sharpe bootstrap.
    seed: int = 0
    #: Trial ledger (``backtest.ledger``): the deflated Sharpe ratio counts the
    #: trials it records for the backtest's period; none: one trial.
    ledger: Path | None = None


class RegimeSettings(_Section):
    """Market regimes read online, and how far they move the book to the risk-free proxy."""

    #: The regime model; "none" leaves the book as constructed.
    model: RegimeKind = "none"
    #: Years of the benchmark's daily history each refit (one per bundle) learns from.
    train_years: Annotated[float, Field(ge=1, le=50)] = 12.0
    #: What the jump model and the HMM read: the benchmark's return features, the
    #: principal components of its window's embedding by each bundle's encoder, or both.
    features: RegimeFeatures = "returns"
    #: Jump model: what a switch of state costs (higher: fewer, longer spells).
    penalty: NonNegFloat = 50.0
    #: States of the jump model and the HMM; the one with the worst mean return is "stressed".
    n_states: Annotated[int, Field(ge=2, le=4)] = 2
    #: Trend rule: trading days of the moving average (210: ten months).
    trend_days: Annotated[int, Field(ge=20, le=400)] = 210
    #: "state": stressed or not; "probability": the probability of stress in steps of 1/4.
    exposure: RegimeExposure = "state"
    #: Share of the risky book moved to the risk-free proxy at full stress.
    fraction: Fraction = 1.0
    #: "daily": a change of regime trades at the next trade day; "rebalance": at the next rebalance.
    timing: RegimeTiming = "daily"
    #: The benchmark's daily closes since long ago (CSV: ``date`` and a column named
    #: after the benchmark); none: the price panel's benchmark column.
    history: Path | None = None
    #: Seed of the fits' random starts.
    seed: int = 0

    @property
    def enabled(self) -> bool:
        """Whether the regime layer acts."""
        return self.model != "none"

    @model_validator(mode="after")
    def _check(self) -> RegimeSettings:
        if self.features != "returns" and self.model == "trend":
            raise ValueError(f"features = {self.features!r} needs a fitted model, not 'trend'")
        if self.exposure == "probability" and self.model not in ("hmm", "none"):
            raise ValueError(
                f"exposure = 'probability' needs a model with probabilities ('hmm'), "
                f"not {self.model!r}"
            )
        return self


class Settings(_Section):
    """The whole configuration file."""

    data: DataSettings = DataSettings()
    features: FeatureSettings = FeatureSettings()
    model: ModelSettings = ModelSettings()
    train: TrainSettings = TrainSettings()
    inference: InferenceSettings = InferenceSettings()
    backtest: BacktestSettings = BacktestSettings()
    trading: TradingSettings = TradingSettings()
    regime: RegimeSettings = RegimeSettings()

    def digest(self) -> str:
        """Short sha256 of the settings, for run manifests."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _format_error(path: Path, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown setting"
    where = f"[{loc}]" if loc else ""
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{path}: {where} {msg}{more}".replace("  ", " ")


#: Keys of each section that name files or folders, relative to the config file's folder.
PATH_KEYS: dict[str, tuple[str, ...]] = {
    "data": ("path", "universe", "cache_dir"),
    "backtest": ("ledger",),
    "regime": ("history",),
}


def resolve_path(value: Any, base: Path) -> Any:
    """A path setting read against ``base`` when it is relative; anything else as it is."""
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str(base / value)
    return value


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    for name, keys in PATH_KEYS.items():
        section = raw.get(name)
        if not isinstance(section, dict):
            continue
        for key in keys:
            if key in section:
                section[key] = resolve_path(section[key], base)
    return raw


def parse_settings(raw: dict[str, Any], source: str | Path = "<settings>") -> Settings:
    """Validate a settings mapping; raise :class:`ConfigError` naming the bad key."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(Path(source), err)) from None


def read_raw_config(path: str | Path) -> dict[str, Any]:
    """A TOML config file as a mapping, its paths resolved against the file's folder.

    Raises
    ------
    ConfigError
        The file is missing or is not valid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    return _resolve_paths(raw, path.resolve().parent)


def load_settings(path: str | Path, regime_history: Path | None = None) -> Settings:
    """Read and validate a TOML config file.

    ``regime_history``: a file that replaces ``[regime] history`` (the
    commands' ``--regime-history``).

    Raises
    ------
    ConfigError
        The file is missing, is not valid TOML, or a setting is unknown or invalid.
    """
    raw = read_raw_config(path)
    if regime_history is not None:
        raw.setdefault("regime", {})["history"] = str(regime_history)
    return parse_settings(raw, path)
