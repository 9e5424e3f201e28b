"""Backtest results built by hand for the statistics, JSON and report tests.

A small result (:func:`make_result`) holds exactly the equity, health and records a test states, so its
statistics can be checked by hand. :func:`synthetic_pair` draws a month of hourly bars for two symbols and
builds a cross and an isolated result from them, with fills, funding every eight hours and, in isolated
mode, the short leg liquidated on a rally: enough for every chart and table to have something to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from crossmargin.sim.result_json import fills_fingerprint
from crossmargin.sim.types import BacktestResult, FundingPayment, Liquidation, Trade

HOUR_MS = 3_600_000
START_MS = 1_619_827_200_000  # 2021-05-01T00:00:00Z


def make_result(
    equity: Sequence[float],
    *,
    initial: str | None = None,
    final: str | None = None,
    health: Sequence[float] | None = None,
    step_ms: int = HOUR_MS,
    span_ms: int | None = None,
    trades: Sequence[Trade] = (),
    liquidations: Sequence[Liquidation] = (),
    funding: Sequence[FundingPayment] = (),
    levels: tuple[Decimal, ...] = (Decimal("1.5"),),
    mode: str = "cross",
) -> BacktestResult:
    """A result whose close equity is ``equity``; the initial equity is its first value unless given."""
    times = START_MS + step_ms * np.arange(len(equity), dtype=np.int64)
    first = Decimal(initial) if initial is not None else Decimal(repr(float(equity[0])))
    last = Decimal(final) if final is not None else Decimal(repr(float(equity[-1])))
    return BacktestResult(
        mode=mode,
        venue="binance-usdm",
        rulebook_as_of="2026-11-24",
        settlement_asset="USDT",
        start_ms=START_MS,
        end_ms=START_MS + (span_ms if span_ms is not None else step_ms * len(equity)),
        initial_equity=first,
        final_equity=last,
        times_ms=times,
        equity=np.asarray(equity, dtype=np.float64),
        health=np.asarray(health if health is not None else [np.nan] * len(equity), dtype=np.float64),
        marks={},
        liquidation_prices={},
        trades=list(trades),
        liquidations=list(liquidations),
        funding=list(funding),
        fills=len(trades) + len(liquidations),
        fills_sha256=fills_fingerprint(trades, liquidations),
        strategy="hold",
        health_levels=levels,
    )


def _walk(rng: np.random.Generator, start: float, bars: int, volatility: float, drift: float) -> np.ndarray:
    return start * np.exp(np.cumsum(rng.normal(drift, volatility, bars)))


def synthetic_pair(bars: int = 720, seed: int = 7) -> tuple[BacktestResult, BacktestResult]:
    """A cross and an isolated run of a long BTC and short ETH book over ``bars`` hours."""
    rng = np.random.default_rng(seed)
    times = START_MS + HOUR_MS * np.arange(bars, dtype=np.int64)
    btc = _walk(rng, 57_000.0, bars, 0.003, 0.0001)
    hours = np.arange(bars)
    rally = 1 + 0.16 * np.exp(-(((hours - 0.4 * bars) / (0.04 * bars + 1)) ** 2))  # ETH's squeeze
    eth = _walk(rng, 2_900.0, bars, 0.004, -0.0001) * rally
    sizes = {"BTCUSDT": 0.526, "ETHUSDT": -3.448}
    opened = {"BTCUSDT": btc[1], "ETHUSDT": eth[1]}
    marks = {"BTCUSDT": btc, "ETHUSDT": eth}
    later = bars * 5 // 9
    trades = [
        Trade(int(times[1]), "BTCUSDT", "buy", Decimal("0.526"), Decimal(f"{btc[1]:.1f}"), Decimal("11.99")),
        Trade(int(times[1]), "ETHUSDT", "sell", Decimal("3.448"), Decimal(f"{eth[1]:.2f}"), Decimal("4.00")),
        Trade(int(times[later]), "BTCUSDT", "sell", Decimal("0.2"), Decimal(f"{btc[later]:.1f}"), Decimal("4.42"),
              Decimal(f"{0.2 * (btc[later] - btc[1]):.2f}")),
    ]  # fmt: skip
    rates = np.round(rng.normal(0.0001, 0.00008, bars // 8 + 1), 6)
    funding = [
        FundingPayment(int(times[k]), symbol, Decimal(repr(float(rate))), Decimal(f"{mark[k]:.2f}"),
                       Decimal(f"{-size * mark[k] * rate:.8f}"))
        for rate, k in zip(rates, range(8, bars, 8), strict=False)
        for symbol, size, mark in (("BTCUSDT", 0.526, btc), ("ETHUSDT", -3.448, eth))
    ]  # fmt: skip
    pnl = sum(sizes[s] * (marks[s] - opened[s]) for s in sizes)
    pnl[:1] = 0.0
    cross_equity = 10_000.0 + pnl
    cross_health = cross_equity / (0.05 * (0.526 * btc + 3.448 * eth))
    cut = 2 + int(np.argmax(eth[2 : bars // 2]))  # the isolated short dies at the first half's highest mark
    isolated_equity = cross_equity.copy()  # after the liquidation only the BTC long moves it
    isolated_equity[cut:] = cross_equity[cut] - 1_219.92 + sizes["BTCUSDT"] * (btc[cut:] - btc[cut])
    isolated_health = cross_health * 0.6
    isolated_health[:cut] = 0.97 + 12 * (eth[cut] - eth[:cut]) / eth[cut]  # the short's own margin thins
    liquidation = Liquidation(int(times[cut]), "ETHUSDT", "buy", Decimal("3.448"), Decimal(f"{eth[cut]:.2f}"), "full",
                              Decimal("-1200.52"), Decimal("19.4"))  # fmt: skip
    cross_liq = {"BTCUSDT": btc - (cross_equity / 0.526) * 0.9, "ETHUSDT": eth + (cross_equity / 3.448) * 0.3}
    isolated_liq = {"BTCUSDT": btc * 0.62, "ETHUSDT": np.where(np.arange(bars) < cut, eth[cut], np.nan)}
    results = []
    for mode, equity, health, liq, liquidations in (
        ("cross", cross_equity, cross_health, cross_liq, []),
        ("isolated", isolated_equity, isolated_health, isolated_liq, [liquidation]),
    ):
        result = make_result(equity, initial="10000", final=f"{equity[-1]:.2f}", health=health,
                             trades=trades, liquidations=liquidations, funding=funding, mode=mode)  # fmt: skip
        result.marks = dict(marks)
        result.liquidation_prices = liq
        results.append(result)
    return results[0], results[1]
