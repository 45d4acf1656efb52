"""How sure a Sharpe ratio is: bootstrap intervals, probabilistic and deflated Sharpe.

Over 9.5 years a Sharpe ratio's standard error is about 0.33, so a table of
point estimates cannot tell most of its rows apart. For every series:

- a :data:`LEVEL` interval of the annualised Sharpe ratio of excess returns,
  from a seeded stationary block bootstrap (Politis and Romano 1994; the
  ``arch`` package's ``StationaryBootstrap``, with the mean block length of
  ``optimal_block_length``, Politis and White 2004 as corrected by Patton,
  Politis and White 2009). Every series is resampled on the same days, so
  the interval of a *difference* of Sharpe ratios keeps their correlation;
- the Sharpe difference against each reference series (the benchmark, 60/40,
  equal weight) with its interval;
- the probabilistic Sharpe ratio (Bailey and Lopez de Prado 2012): the
  probability that the true Sharpe ratio is above 0, given the length,
  skew and kurtosis of the series;
- the deflated Sharpe ratio (Bailey and Lopez de Prado 2014): the same
  probability against the Sharpe ratio the best of ``N`` trials with no skill
  would show, where the trials are every variant run on the period (the
  ledger, :mod:`backtest.ledger`). With one trial it is the PSR.

Tests hold PSR and DSR to skfolio's ``probabilistic_sharpe_ratio`` and
``deflated_sharpe_ratio`` and check the intervals' coverage on simulated pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = [
    "LEVEL",
    "REFERENCES",
    "RESAMPLES",
    "block_length",
    "deflated_sharpe",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "sharpe_draws",
    "sharpe_statistics",
]

#: Two-sided coverage of every interval.
LEVEL = 0.90
#: Bootstrap resamples.
RESAMPLES = 5000
#: Series every other is compared with, when the run has them.
REFERENCES = ("benchmark", "sixty_forty", "equal_weight")


def _per_period_sharpe(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, x.mean(axis=0) / std, np.nan)


def block_length(excess: np.ndarray) -> float:
    """Mean block length for the stationary bootstrap: the median over the columns, >= 1."""
    from arch.bootstrap import optimal_block_length

    x = np.asarray(excess, dtype=np.float64).reshape(len(excess), -1)
    keep = x.std(axis=0) > 0
    if not keep.any():
        return 1.0
    lengths = optimal_block_length(x[:, keep])["stationary"].to_numpy()
    return float(max(1.0, np.median(lengths)))


def sharpe_draws(
    excess: np.ndarray, *, reps: int = RESAMPLES, seed: int = 0, block: float | None = None
) -> np.ndarray:
    """``(reps, S)`` per-period Sharpe ratios of stationary-bootstrap resamples.

    Parameters
    ----------
    excess : numpy.ndarray
        ``(T, S)`` excess returns; the rows (days) are resampled together.
    reps, seed : int
        Resamples, and the seed of their generator.
    block : float, optional
        Mean block length; :func:`block_length` when omitted.
    """
    from arch.bootstrap import StationaryBootstrap

    x = np.asarray(excess, dtype=np.float64)
    block = block_length(x) if block is None else block
    # A mean block length need not be whole; arch's annotation says int.
    bs = StationaryBootstrap(block, x, seed=np.random.default_rng(seed))  # type: ignore[arg-type]
    return bs.apply(_per_period_sharpe, reps)


def _bounds(draws: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    return np.nanquantile(draws, tail, axis=0), np.nanquantile(draws, 1.0 - tail, axis=0)


def probabilistic_sharpe(excess: np.ndarray, benchmark: float = 0.0) -> float:
    """P(true per-period Sharpe > ``benchmark``) from one series of excess returns."""
    x = np.asarray(excess, dtype=np.float64)
    n = x.size
    sr = float(_per_period_sharpe(x[:, None])[0])
    if n < 3 or not np.isfinite(sr):
        return float("nan")
    skew = float(stats.skew(x))
    kurt = float(stats.kurtosis(x, fisher=False))
    adj = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if not adj > 0:
        return float("nan")
    return float(stats.norm.cdf((sr - benchmark) * np.sqrt(n - 1) / np.sqrt(adj)))


def expected_max_sharpe(n_trials: int, std: float) -> float:
    """Expected best per-period Sharpe of ``n_trials`` skill-less trials of dispersion ``std``."""
    if n_trials <= 1 or std <= 0:
        return 0.0
    gamma = np.euler_gamma
    z = (1 - gamma) * stats.norm.ppf(1 - 1 / n_trials) + gamma * stats.norm.ppf(
        1 - 1 / (n_trials * np.e)
    )
    return float(std * z)


def deflated_sharpe(excess: np.ndarray, trial_sharpes: Sequence[float]) -> float:
    """PSR against the expected best of the trials (per-period Sharpe ratios, NaN dropped)."""
    trials = np.asarray(trial_sharpes, dtype=np.float64)
    trials = trials[np.isfinite(trials)]
    std = float(trials.std(ddof=1)) if trials.size > 1 else 0.0
    return probabilistic_sharpe(excess, expected_max_sharpe(trials.size, std))


def sharpe_statistics(
    series: Mapping[str, np.ndarray],
    rf: np.ndarray,
    periods_per_year: float,
    *,
    trial_sharpes: Sequence[float] = (),
    reps: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Intervals, Sharpe differences, PSR and DSR of every series (module docstring).

    Parameters
    ----------
    series : mapping of str to numpy.ndarray
        Daily returns of each series, all on the same days.
    rf : numpy.ndarray
        Risk-free return of each of those days.
    periods_per_year : float
        Annualises Sharpe ratios (intervals and differences are annual).
    trial_sharpes : sequence of float
        Annual Sharpe ratios of every trial run on the period (DSR); empty: one trial.
    reps, seed : int
        Bootstrap resamples and seed.
    """
    names = list(series)
    excess = np.column_stack([np.asarray(series[n], dtype=np.float64) - rf for n in names])
    scale = np.sqrt(periods_per_year)
    draws = sharpe_draws(excess, reps=reps, seed=seed) * scale
    point = _per_period_sharpe(excess) * scale
    lo, hi = _bounds(draws)
    trials = np.asarray(trial_sharpes, dtype=np.float64) / scale
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        row = {"sharpe_lo": float(lo[j]), "sharpe_hi": float(hi[j])}
        row["psr"] = probabilistic_sharpe(excess[:, j])
        row["dsr"] = deflated_sharpe(excess[:, j], trials) if trials.size else row["psr"]
        row["dsr_trials"] = float(max(trials.size, 1))
        for ref in REFERENCES:
            if ref in series and ref != name:
                k = names.index(ref)
                d_lo, d_hi = _bounds(draws[:, j] - draws[:, k])
                row[f"sharpe_diff_{ref}"] = float(point[j] - point[k])
                row[f"sharpe_diff_{ref}_lo"] = float(d_lo)
                row[f"sharpe_diff_{ref}_hi"] = float(d_hi)
        out[name] = row
    return out
