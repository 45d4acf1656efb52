"""Research: the walk-forward backtest, its baselines, accounting, charts and report.

Imports ``inferer`` and ``shared``; nothing in the cron path imports this
package, and the inference image does not contain it.
"""
