"""Regime monitor: when diversification collapses and one systemic move drives every position.

A cross pool is safest when its positions do not fall together. That holds in calm markets
and fails in crashes, when correlations jump toward 1. The monitor rolls a window over the
shipped hourly history of the account's assets and follows two figures. The first is the
average pairwise correlation. The second is the portfolio's diversification ratio: the
weighted sum of each position's volatility over the volatility of the whole portfolio,
weighted by signed notional. It is 1 when nothing diversifies, and higher when positions
offset each other. Windows whose average correlation reaches the threshold are flagged;
consecutive flagged windows form an episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crossmargin.margin.position import notional
from crossmargin.margin.types import Position
from crossmargin.risk.history import HourlyHistory, load_history
from crossmargin.units import InputError

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Episode:
    """Consecutive flagged windows: first and last window end (hours since 1970), peak correlation."""

    start_hour: int
    end_hour: int
    peak_correlation: float


@dataclass(frozen=True)
class RegimeSeries:
    assets: tuple[str, ...]
    hours: npt.NDArray[np.int64]  # each window's end
    average_correlation: F64
    diversification_ratio: F64
    flagged: npt.NDArray[np.bool_]
    threshold: float

    def episodes(self) -> list[Episode]:
        found: list[Episode] = []
        start = None
        for index, flag in enumerate([*self.flagged.tolist(), False]):
            if flag and start is None:
                start = index
            elif not flag and start is not None:
                peak = float(self.average_correlation[start:index].max())
                found.append(Episode(int(self.hours[start]), int(self.hours[index - 1]), peak))
                start = None
        return found


def regime(
    weights: dict[str, float],
    *,
    window_hours: int = 30 * 24,
    every_hours: int = 24,
    threshold: float = 0.8,
    history: HourlyHistory | None = None,
) -> RegimeSeries:
    """Rolling average correlation and diversification ratio of a portfolio of signed notionals."""
    assets = sorted(weights)
    if len(assets) < 2:
        raise InputError("positions", "the regime monitor needs positions in at least two assets")
    if window_hours < 48 or every_hours < 1:
        raise InputError("window" if window_hours < 48 else "every", "must be at least 48 hours and 1 hour")
    if not -1 < threshold < 1:
        raise InputError("threshold", f"must lie strictly between -1 and 1, got {threshold}")
    hours, returns = (history or load_history()).joint_with_hours(assets, field="positions")
    if len(returns) <= window_hours:
        raise InputError("window", f"is longer than the joint history of {', '.join(assets)}")
    w = np.array([weights[a] for a in assets])
    sums = np.vstack([np.zeros(len(assets)), np.cumsum(returns, axis=0)])
    products = np.concatenate(
        [np.zeros((1, len(assets), len(assets))), np.cumsum(returns[:, :, None] * returns[:, None, :], axis=0)]
    )
    ends = np.arange(window_hours, len(returns) + 1, every_hours)
    mean = (sums[ends] - sums[ends - window_hours]) / window_hours
    covariance = (products[ends] - products[ends - window_hours]) / window_hours - mean[:, :, None] * mean[:, None, :]
    sigma = np.sqrt(np.clip(np.einsum("tii->ti", covariance), 0, None))
    correlation = covariance / (sigma[:, :, None] * sigma[:, None, :])
    pairs = np.triu_indices(len(assets), k=1)
    average = correlation[:, pairs[0], pairs[1]].mean(axis=1)
    portfolio = np.sqrt(np.clip(np.einsum("i,tij,j->t", w, covariance, w), 1e-300, None))
    ratio = (np.abs(w) * sigma).sum(axis=1) / portfolio
    return RegimeSeries(tuple(assets), hours[ends - 1], average, ratio, average >= threshold, threshold)


def weights_of(positions: Iterable[Position]) -> dict[str, float]:
    """Signed notional per base asset (the margin functions' notional, long positive)."""
    out: dict[str, float] = {}
    for position in positions:
        value = float(notional(position.instrument, position.size, position.mark_price)) * position.side.sign
        out[position.instrument.base_asset] = out.get(position.instrument.base_asset, 0.0) + value
    return out
