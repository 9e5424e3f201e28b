"""Benchmark: exact evaluation of a 10-position cross account (run by hand).

Measures ``evaluate_account`` on a parsed account: every position's figures, all ten
liquidation and bankruptcy prices (tiers re-evaluated at each price) and the pool's
liquidation move both ways, on the binance-usdm rulebook's real tier tables. Prints the
median in microseconds beside a fixed reference workload timed in the same run (10,000
Decimal multiply-adds), and their ratio, because absolute times on shared machines drift.

    python benchmarks/bench_evaluate.py [--repeat 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

from crossmargin.margin import evaluate_account, parse_account

POSITIONS = [
    ("BTCUSDT", "long", "1.5", "61000", "60250.5"),
    ("ETHUSDT", "long", "20", "3050", "2990.15"),
    ("SOLUSDT", "short", "300", "140", "143.2"),
    ("BNBUSDT", "long", "40", "560", "571.3"),
    ("XRPUSDT", "short", "30000", "0.52", "0.5311"),
    ("DOGEUSDT", "long", "200000", "0.12", "0.1187"),
    ("1000PEPEUSDT", "long", "3000000", "0.0105", "0.0101"),
    ("ADAUSDT", "short", "40000", "0.38", "0.3712"),
    ("LTCUSDT", "long", "100", "70", "68.9"),
]


def account() -> dict[str, object]:
    positions: list[dict[str, str]] = [
        {"symbol": s, "side": side, "size": size, "entry_price": entry, "mark_price": mark, "leverage": "10"}
        for s, side, size, entry, mark in POSITIONS
    ]
    # the tenth position: a hedge-mode short leg beside a long leg on ETHUSDT
    positions[1]["position_side"] = "long"
    positions.append(
        {
            "symbol": "ETHUSDT",
            "position_side": "short",
            "side": "short",
            "size": "5",
            "entry_price": "3100",
            "mark_price": "2990.15",
            "leverage": "10",
        }
    )
    return {"venue": "binance-usdm", "balances": {"USDT": "60000"}, "positions": positions}


def reference_workload() -> Decimal:
    """A fixed amount of exact arithmetic: 10,000 Decimal multiply-adds."""
    total = Decimal(0)
    step = Decimal("1.000001")
    for index in range(10_000):
        total += step * index
    return total


def median_us(function, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        function()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    snapshot = parse_account(account())
    evaluation = evaluate_account(snapshot)
    assert len(evaluation.pools[0].figures.positions) == 10
    for _ in range(200):  # warm up caches and the interpreter
        evaluate_account(snapshot)
    evaluate = median_us(lambda: evaluate_account(snapshot), args.repeat)
    reference = median_us(reference_workload, max(50, args.repeat // 20))
    print(f"evaluate 10-position cross account: median {evaluate:.1f} us ({args.repeat} runs)")
    print(f"reference workload (10,000 Decimal multiply-adds): median {reference:.1f} us")
    print(f"ratio evaluate / reference: {evaluate / reference:.3f}")
    print("target: evaluate <= 300 us")


if __name__ == "__main__":
    main()
