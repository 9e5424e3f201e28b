"""Child process of the crash test: writes deterministic commands to a SQLite store until killed.

Each command is a function of its sequence number alone, so the parent can rebuild what any
prefix of the log must contain without talking to the child. After a command is stored and
acknowledged, the child prints its sequence number and flushes: a number the parent has
read is a promise the store must keep after the kill.

    python -m tests.crash_writer PATH [LIMIT]
"""

from __future__ import annotations

import sys
from decimal import Decimal as D

from crossmargin.engine.commands import Command, Deposit, MarketUpdate, OrderType, PlaceOrder, Withdraw
from crossmargin.rules import load_rulebook
from crossmargin.store import DurableEngine, open_store

ACCOUNTS = 10
SNAPSHOT_EVERY = 25
_SETUP: list[Command] = [
    Deposit("c1", "insurance", "USD", D(10_000_000)),
    MarketUpdate("c2", "BTC-PERP", 2, mark=D(50_000)),
    MarketUpdate("c3", "ETH-PERP", 3, mark=D(3_000)),
]


def command_for(seq: int) -> Command:
    """The command stored at ``seq``: setup, one deposit per account, then a mixed cycle."""
    command_id = f"c{seq}"
    if seq <= len(_SETUP):
        return _SETUP[seq - 1]
    if seq <= len(_SETUP) + ACCOUNTS:
        return Deposit(command_id, f"a{seq - len(_SETUP) - 1}", "USD", D(10_000))
    account = f"a{(seq // 10) % ACCOUNTS}"
    swing = D((seq * 37) % 2001 - 1000)
    kind = seq % 10
    if kind == 0:
        return MarketUpdate(command_id, "BTC-PERP", seq, mark=D(50_000) + swing)
    if kind == 1:
        return MarketUpdate(command_id, "ETH-PERP", seq, mark=D(3_000) + swing / 10)
    if kind in (2, 3, 4):
        return PlaceOrder(command_id, account, "BTC-PERP", "buy" if seq % 3 else "sell", D("0.01"))
    if kind in (5, 6):
        return PlaceOrder(command_id, account, "ETH-PERP", "sell" if seq % 3 else "buy", D("0.1"))
    if kind == 7:
        price = D(40_000) + D(seq % 100)
        return PlaceOrder(command_id, account, "BTC-PERP", "buy", D("0.001"), OrderType.LIMIT, price=price)
    if kind == 8:
        return Deposit(command_id, account, "USD", D(100))
    return Withdraw(command_id, account, "USD", D(50))


def main(argv: list[str]) -> int:
    path, limit = argv[0], int(argv[1]) if len(argv) > 1 else 10**9
    durable = DurableEngine(open_store(path), load_rulebook("generic"), snapshot_every=SNAPSHOT_EVERY)
    seq = durable.sequence + 1
    while seq <= limit:
        command = command_for(seq)
        durable.execute(command)
        assert durable.sequence == seq
        print(seq, flush=True)
        if seq % 7 == 0:  # an idempotent retry: answered again, never stored twice
            durable.execute(command)
            assert durable.sequence == seq
        seq += 1
    durable.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
