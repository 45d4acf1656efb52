"""Monte Carlo frontier timings at 300 assets.

Prints medians. Target (2-core CPU): 10,000 random portfolios over 300 assets,
sampling plus return/vol/Sharpe, under 0.1 s. The analytical curve
(PyPortfolioOpt + CLARABEL, one solve per point) is timed separately.

Moments are annualised from the last three years of daily returns of the first
300 complete assets of the shared panel, or synthetic one-factor moments when
the panel is absent.

    .venv/bin/python benchmarks/frontier.py [--repeat 7] [--curve-repeat 3] [--prices PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from common import PANEL, timed
from threadpoolctl import threadpool_limits

from backtest.frontier import analytical_frontier, portfolio_stats, random_portfolios

N_ASSETS = 300
N_PORTFOLIOS = 10_000


def panel_moments(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    import polars as pl

    df = pl.read_csv(path, try_parse_dates=True, infer_schema_length=None)
    px = df.drop("date").cast(pl.Float64).tail(3 * 252 + 1).to_numpy()
    px = px[:, ~np.isnan(px).any(axis=0)][:, :N_ASSETS]
    r = px[1:] / px[:-1] - 1.0
    return r.mean(axis=0) * 252, np.cov(r, rowvar=False) * 252, f"panel {path.name}"


def synthetic_moments() -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(0)
    vols = rng.uniform(0.05, 0.4, N_ASSETS)
    beta = rng.uniform(0.2, 0.9, N_ASSETS)
    corr = np.outer(beta, beta)
    np.fill_diagonal(corr, 1.0)
    return 0.02 + 0.3 * vols, corr * np.outer(vols, vols), "synthetic one-factor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--curve-repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--prices", type=Path, default=PANEL)
    args = parser.parse_args()

    mu, cov, source = panel_moments(args.prices) if args.prices.is_file() else synthetic_moments()
    n = mu.size
    rng = np.random.default_rng(0)

    def sample_and_stats() -> Any:
        w = random_portfolios(N_PORTFOLIOS, n, rng=rng)
        return portfolio_stats(w, mu, cov, rf=0.02)

    def monte_carlo(label: str) -> None:
        sample_and_stats()  # warm up BLAS threads and page in the arrays
        t_sample, _ = timed(lambda: random_portfolios(N_PORTFOLIOS, n, rng=rng), args.repeat)
        w = random_portfolios(N_PORTFOLIOS, n, rng=rng)
        t_stats, _ = timed(lambda: portfolio_stats(w, mu, cov, rf=0.02), args.repeat)
        t_both, _ = timed(sample_and_stats, args.repeat)
        status = "OK" if t_both < 0.1 else "OVER"
        print(f"[{label}] median of {args.repeat}:")
        print(f"  sampling (Dirichlet)          {t_sample * 1e3:8.1f} ms")
        print(f"  stats, ((W @ cov) * W).sum(1) {t_stats * 1e3:8.1f} ms")
        print(
            f"  sampling + stats              {t_both * 1e3:8.1f} ms  (target < 100 ms: {status})"
        )

    print(f"moments: {source}, {n} assets; {N_PORTFOLIOS:,} portfolios")
    monte_carlo("BLAS default threads")
    # Idle OpenBLAS threads spin after the product and steal the core the sampler
    # needs next; on a busy 2-core machine one BLAS thread is often faster overall.
    with threadpool_limits(limits=1, user_api="blas"):
        monte_carlo("BLAS 1 thread")

    t_curve, (vols, _) = timed(
        lambda: analytical_frontier(mu, cov, n_points=args.points), args.curve_repeat
    )
    print(
        f"analytical curve, {vols.size}/{args.points} points, median of {args.curve_repeat}: "
        f"{t_curve:.2f} s ({t_curve / max(vols.size, 1) * 1e3:.0f} ms/point)"
    )


if __name__ == "__main__":
    main()
