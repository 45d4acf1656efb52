"""Calendar arithmetic in whole months, shared by training windows and regime models."""

from __future__ import annotations

import calendar
import datetime as dt

__all__ = ["add_months", "years_before"]


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` months, clamped to the month's end (Jan 31 + 1 -> Feb 28)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: dt.date, years: float) -> dt.date:
    """The date ``years`` before ``day``, in whole months (1.5 years: 18 months)."""
    return add_months(day, -round(12 * years))
