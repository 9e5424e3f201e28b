"""Benchmark: the in-memory engine on a mixed stream over 1,000 accounts (run by hand).

80 % market orders, 19.9 % mark updates, 0.1 % funding settlements (one per 1,000 commands,
about an 8-hour funding cadence against a busy stream) on the generic venue's BTC-PERP and
ETH-PERP. Printed beside a baseline measured in the same run: posting one ledger transfer
group per command, the least any accepted command costs.

    python benchmarks/bench_engine.py [--commands 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from decimal import Decimal

from crossmargin.engine.commands import Command, Deposit, MarketUpdate, PlaceOrder, SettleFunding
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import AccountKind, Ledger, LedgerAccount, Transfer
from crossmargin.rules import load_rulebook
from crossmargin.units import exact_context

ACCOUNTS = 1000
MARKS = {"BTC-PERP": Decimal(50000), "ETH-PERP": Decimal(3000)}
FUNDING_MS = 8 * 3_600_000  # the generic perpetuals' funding interval


def setup() -> Engine:
    engine = Engine(load_rulebook("generic"))
    engine.execute(Deposit("fund", "insurance", "USD", Decimal(10**9)))
    for symbol, mark in MARKS.items():
        engine.execute(MarketUpdate(f"m-{symbol}", symbol, 0, mark=mark, funding_rate=Decimal("0.0001")))
    for index in range(ACCOUNTS):
        engine.execute(Deposit(f"d{index}", f"a{index}", "USD", Decimal(100000)))
    return engine


def stream(engine: Engine, count: int, seed: int = 7) -> list[Command]:
    rng = random.Random(seed)
    marks = dict(MARKS)
    commands: list[Command] = []
    clock = 1
    for number in range(count):
        draw = rng.random()
        symbol = rng.choice(sorted(marks))
        if draw < 0.8:
            lot = engine.rulebook.instrument(symbol).lot_size
            commands.append(
                PlaceOrder(
                    f"o{number}",
                    f"a{rng.randrange(ACCOUNTS)}",
                    symbol,
                    rng.choice(["buy", "sell"]),
                    lot * rng.randint(1, 100),
                )
            )
        elif draw < 0.999:
            clock += 1
            marks[symbol] = (marks[symbol] * (1 + Decimal(rng.randint(-20, 20)) / 10000)).quantize(Decimal("0.01"))
            commands.append(MarketUpdate(f"m{number}", symbol, clock, mark=marks[symbol]))
        else:  # the next funding time (every 8 h on both): funding is exchanged only then
            clock = (clock // FUNDING_MS + 1) * FUNDING_MS
            commands.append(SettleFunding(f"f{number}", symbol, clock))
    return commands


def baseline(count: int) -> float:
    ledger = Ledger()
    source = LedgerAccount.venue(AccountKind.CLEARING, "USD")
    start = time.perf_counter()
    with exact_context():
        for index in range(count):
            ledger.post(
                [
                    Transfer(
                        source, LedgerAccount(f"a{index % ACCOUNTS}", AccountKind.WALLET, "USD"), Decimal(1), "baseline"
                    )
                ]
            )
    return count / (time.perf_counter() - start)


def run_once(count: int) -> tuple[float, float]:
    """One fresh engine over one stream: ``(engine commands/s, baseline groups/s)``."""
    gc.collect()  # start each run without the previous run's garbage
    engine = setup()
    commands = stream(engine, count)
    start = time.perf_counter()
    for command in commands:
        engine.execute(command)
    rate = len(commands) / (time.perf_counter() - start)
    engine.ledger.check_conservation()
    return rate, baseline(len(commands))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs; the median is reported")
    args = parser.parse_args()
    runs = [run_once(args.commands) for _ in range(args.repeat)]
    for number, (rate, floor) in enumerate(runs, 1):
        print(f"run {number}: engine {rate:,.0f} commands/s, baseline {floor:,.0f} groups/s, ratio {rate / floor:.3f}")
    rate = statistics.median(r for r, _ in runs)
    floor = statistics.median(f for _, f in runs)
    print(f"engine, in memory: {rate:,.0f} commands/s median ({args.commands} commands, {ACCOUNTS} accounts)")
    print(f"baseline, one ledger group per command: {floor:,.0f} groups/s median")
    print(f"ratio engine / baseline: {rate / floor:.3f}")
    print("target: engine >= 20,000 commands/s")


if __name__ == "__main__":
    main()
