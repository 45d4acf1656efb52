"""Tests of the `backtest` package."""
