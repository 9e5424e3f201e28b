"""Benchmark: durable SQLite throughput, in acknowledged commands per second (run by hand).

A deterministic mixed stream (deposits and withdrawals, market updates, resting limit
orders, cancels and market orders over ``--accounts`` accounts on the generic venue) goes
through :class:`DurableEngine` on a SQLite file: each command is executed, then stored in
its own transaction with a full sync (WAL, ``synchronous=FULL``) before the next one starts.

Beside it, in the same run and on the same disk, two references:

- raw SQLite: the very rows the durable run wrote, inserted into a bare table of the same
  shape at the same durability (WAL, ``synchronous=FULL``, one commit per row). This is the
  ceiling the disk's sync latency sets; the ratio is what the engine and the store cost on top.
- the engine alone, in memory, on the same stream: what executing the commands costs
  without any storage, so a slow figure can be blamed on the right layer.

    python benchmarks/bench_store.py [--commands 5000] [--accounts 1000] [--dir /path/on/the/disk]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from crossmargin.engine.commands import (
    CancelOrder,
    Command,
    Deposit,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook
from crossmargin.store import DurableEngine, Record, SQLiteStore

MARKS = {"BTC-PERP": Decimal(50_000), "ETH-PERP": Decimal(3_000)}
QUANTITY = {"BTC-PERP": Decimal("0.001"), "ETH-PERP": Decimal("0.01")}


def stream(commands: int, accounts: int, seed: int = 7) -> list[Command]:
    """The setup (insurance, marks, one deposit per account) then a seeded mix up to ``commands``."""
    rng = random.Random(seed)
    out: list[Command] = [Deposit("fund", "insurance", "USD", Decimal(10**8))]
    out += [MarketUpdate(f"mark-{s}", s, 1, mark=mark) for s, mark in MARKS.items()]
    out += [Deposit(f"open-{i}", f"acct-{i}", "USD", Decimal(10_000)) for i in range(accounts)]
    resting: list[tuple[str, str]] = []  # (account, order id) the engine will give, in order
    order_number = 0
    while len(out) < commands:
        n = len(out)
        account = f"acct-{rng.randrange(accounts)}"
        symbol = rng.choice(list(MARKS))
        draw = rng.random()
        if draw < 0.25:
            out.append(Deposit(f"c{n}", account, "USD", Decimal(rng.randrange(1, 500))))
        elif draw < 0.35:
            out.append(Withdraw(f"c{n}", account, "USD", Decimal(rng.randrange(1, 100))))
        elif draw < 0.45:
            move = Decimal(rng.randrange(-200, 201)) / 10_000  # within 2% of the opening mark
            out.append(MarketUpdate(f"c{n}", symbol, n, mark=(MARKS[symbol] * (1 + move)).quantize(Decimal(1))))
        elif draw < 0.80:
            price = (MARKS[symbol] * Decimal("0.8")).quantize(Decimal(1))  # rests: far below any mark
            out.append(PlaceOrder(f"c{n}", account, symbol, "buy", QUANTITY[symbol], OrderType.LIMIT, price=price))
            order_number += 1
            resting.append((account, f"o{order_number}"))
        elif draw < 0.90 and resting:
            owner, order_id = resting.pop(rng.randrange(len(resting)))
            out.append(CancelOrder(f"c{n}", owner, order_id))
        else:
            out.append(PlaceOrder(f"c{n}", account, symbol, rng.choice(["buy", "sell"]), QUANTITY[symbol]))
    return out


def engine_alone(commands: list[Command]) -> float:
    engine = Engine(load_rulebook("generic"))
    start = time.perf_counter()
    for command in commands:
        engine.execute(command)
    return len(commands) / (time.perf_counter() - start)


def durable(commands: list[Command], path: Path) -> tuple[float, list[Record], int]:
    """Acknowledged commands per second, the records written, and how many commands were accepted."""
    store = SQLiteStore(path)
    engine = DurableEngine(store, load_rulebook("generic"))
    accepted = 0
    start = time.perf_counter()
    for command in commands:
        accepted += engine.execute(command).code.accepted
    rate = len(commands) / (time.perf_counter() - start)
    records = list(store.records())
    engine.close()
    return rate, records, accepted


def raw_sqlite(records: list[Record], path: Path) -> float:
    """The same rows, bare: WAL, synchronous=FULL, one transaction and commit per row."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE rows (seq INTEGER PRIMARY KEY, command_id TEXT UNIQUE, command TEXT, result TEXT,"
        " prev_hash TEXT, hash TEXT)"
    )
    start = time.perf_counter()
    for r in records:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)",
            (r.seq, r.command_id, r.command, r.result, r.prev_hash, r.hash),
        )
        connection.execute("COMMIT")
    rate = len(records) / (time.perf_counter() - start)
    connection.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)")
    args = parser.parse_args()
    commands = stream(args.commands, args.accounts)
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        rate, records, accepted = durable(commands, Path(directory) / "durable.db")
        baseline = raw_sqlite(records, Path(directory) / "raw.db")
    alone = engine_alone(commands)
    size = sum(len(r.command) + len(r.result) + 128 for r in records) // len(records)
    print(f"stream: {len(commands)} commands over {args.accounts} accounts, {accepted} accepted, ~{size} bytes/record")
    print(f"durable SQLite (engine + store, WAL, synchronous=FULL): {rate:10.0f} acknowledged commands/s")
    print(f"raw SQLite inserts, same rows and durability:          {baseline:10.0f} rows/s")
    print(f"engine alone, in memory, same stream:                  {alone:10.0f} commands/s")
    print(f"durable / raw: {rate / baseline:.2f}")
    store_cost = max(1 / rate - 1 / alone, 1e-9)
    print(
        f"store's own cost: {store_cost * 1e6:.0f} us/command (ceiling {1 / store_cost:.0f}/s if the engine were free)"
    )


if __name__ == "__main__":
    main()
