"""The trend rule (Faber 2007): the market is stressed while it closes below its moving average.

Faber's rule holds the market while its month-end close is above its
10-month simple moving average and T-bills otherwise; here the average is of
the last ``days`` daily closes (210: ten months), read every day. Nothing
is fitted, so nothing can be overfitted: the baseline a regime model must
beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TrendRule"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrendRule:
    """Stressed on a day whose close is below the mean of the last ``days`` closes."""

    days: int

    def stress_of_closes(self, closes: npt.ArrayLike) -> FloatArray:
        """1 where the close is below its moving average; 0 before ``days`` closes exist."""
        c = np.asarray(closes, dtype=np.float64)
        total = np.cumsum(np.r_[0.0, c])
        average = np.full(c.size, np.nan)
        average[self.days - 1 :] = (total[self.days :] - total[: -self.days]) / self.days
        with np.errstate(invalid="ignore"):
            return (c < average).astype(np.float64)

    def params(self) -> dict[str, Any]:
        """The rule's one number, as JSON."""
        return {"days": self.days}

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> TrendRule:
        """The rule :meth:`params` wrote."""
        return cls(int(p["days"]))
