"""The shipped hourly price history: eight Binance perpetuals on one hourly grid (see data/NOTICE.md).

The bootstrap model resamples it, and the other models estimate volatilities, correlations and
fat tails from it. Only the hours where every asset of a question has a price are used, so a
BTC/ETH account draws from 2020 on (March 2020, May 2021, LUNA and FTX included) and one
holding SOL from mid-2022 on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from crossmargin.units import InputError

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HourlyHistory:
    """Closes per hour (rows) and asset (columns), NaN where a contract had no candle."""

    assets: tuple[str, ...]
    hours: npt.NDArray[np.int64]  # hours since 1970-01-01 UTC
    closes: npt.NDArray[np.float32]

    def joint(self, assets: list[str], *, field: str = "assets") -> F64:
        """Hourly log returns of ``assets`` over the hours where all of them trade (rows x assets)."""
        return self.joint_with_hours(assets, field=field)[1]

    def joint_with_hours(self, assets: list[str], *, field: str = "assets") -> tuple[npt.NDArray[np.int64], F64]:
        """As :meth:`joint`, with the hour each return ends at (hours since 1970-01-01 UTC)."""
        missing = [a for a in assets if a not in self.assets]
        if missing:
            known = ", ".join(self.assets)
            raise InputError(field, f"no price history for {missing[0]} (the shipped history has {known})")
        columns = self.closes[:, [self.assets.index(a) for a in assets]].astype(np.float64)
        returns = np.diff(np.log(columns), axis=0)
        keep = np.all(np.isfinite(returns), axis=1)
        rows: F64 = returns[keep]
        if len(rows) < 24 * 30:
            raise InputError(field, f"fewer than 30 days of joint history for {', '.join(assets)}")
        return self.hours[1:][keep], rows


@functools.cache
def load_history() -> HourlyHistory:
    """The shipped history (read once per process)."""
    with resources.files("crossmargin.risk.data").joinpath("hourly_closes.npz").open("rb") as handle:
        data = np.load(handle)
        return HourlyHistory(tuple(str(a) for a in data["assets"]), data["hours"], data["closes"])
