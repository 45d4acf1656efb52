"""Research grids on Ray: variants x seeds x cost levels, trained and backtested once each."""
