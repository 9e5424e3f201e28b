"""Soak: a long random command stream through the engine with its invariants checked (run by hand).

Deposits, withdrawals, market and limit orders, cancels, leverage changes, mark moves (with the
occasional gap) and funding over 1,000 accounts and two instruments; one account in ten runs a
multi-asset pool backed by BTC, whose price moves too (now and then by up to -25 %). Every 100
commands the ledger must balance per asset, no user balance or insurance fund may be negative
(but for a multi-asset wallet's debt, never past the auto-exchange threshold), and every
position must be positive; at the end a replay of the same stream into a fresh engine must
give the same state hash. Prints the rate beside a baseline measured in the same run (one
ledger group per command).

    python benchmarks/soak_engine.py [--commands 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from bench_engine import ACCOUNTS, FUNDING_MS, baseline

from crossmargin.engine.commands import (
    AssetPrice,
    CancelOrder,
    Command,
    Deposit,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    SetAssetMode,
    SetLeverage,
    SettleFunding,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import USER_KINDS, AccountKind
from crossmargin.rules import load_rulebook

MARKS = {"BTC-PERP": Decimal(50000), "ETH-PERP": Decimal(3000)}


def commands(count: int, seed: int) -> list[Command]:
    rng = random.Random(seed)
    marks = dict(MARKS)
    out: list[Command] = [Deposit("fund", "insurance", "USD", Decimal(10**7))]
    out += [MarketUpdate(f"init-{s}", s, 0, mark=m, funding_rate=Decimal("0.0001")) for s, m in marks.items()]
    btc_price = Decimal(50000)
    out.append(AssetPrice("init-BTC", "BTC", 0, btc_price))
    for number in range(0, ACCOUNTS, 10):  # every tenth account: a multi-asset pool on BTC collateral
        out.append(Deposit(f"init-btc-a{number}", f"a{number}", "BTC", Decimal(rng.randint(1, 20)) / 100))
        out.append(SetAssetMode(f"init-mode-a{number}", f"a{number}", "multi"))
    clock = 1
    for n in range(count):
        account = f"a{rng.randrange(ACCOUNTS)}"
        symbol = rng.choice(sorted(marks))
        draw = rng.random()
        if draw < 0.08:
            out.append(Deposit(f"c{n}", account, "USD", Decimal(rng.randint(100, 50000))))
        elif draw < 0.12:
            out.append(Withdraw(f"c{n}", account, "USD", Decimal(rng.randint(1, 20000))))
        elif draw < 0.62:
            lots = Decimal(rng.randint(1, 500)) * (Decimal("0.0001") if symbol == "BTC-PERP" else Decimal("0.001"))
            out.append(PlaceOrder(f"c{n}", account, symbol, rng.choice(["buy", "sell"]), lots))
        elif draw < 0.70:
            offset = Decimal(rng.randint(-200, 200)) / 10000
            price = (marks[symbol] * (1 + offset)).quantize(Decimal("0.1"))
            out.append(
                PlaceOrder(
                    f"c{n}", account, symbol, rng.choice(["buy", "sell"]), Decimal("0.01"), OrderType.LIMIT, price=price
                )
            )
        elif draw < 0.72:
            out.append(CancelOrder(f"c{n}", account, f"o{rng.randint(1, 5000)}"))
        elif draw < 0.74:
            out.append(SetLeverage(f"c{n}", account, symbol, Decimal(rng.choice([2, 5, 10, 20]))))
        elif draw < 0.745:
            step = rng.randint(-400, 400) if rng.random() > 0.05 else rng.randint(-2500, 1500)
            btc_price = max(Decimal(100), (btc_price * (1 + Decimal(step) / 10000)).quantize(Decimal("0.01")))
            out.append(AssetPrice(f"c{n}", "BTC", clock, btc_price))
        elif draw < 0.999:
            clock += 1
            step = rng.randint(-300, 300) if rng.random() > 0.01 else rng.randint(-1500, 1500)
            marks[symbol] = max(Decimal(1), (marks[symbol] * (1 + Decimal(step) / 10000)).quantize(Decimal("0.1")))
            out.append(MarketUpdate(f"c{n}", symbol, clock, mark=marks[symbol]))
        else:  # the next funding time: funding is exchanged only then
            clock = (clock // FUNDING_MS + 1) * FUNDING_MS
            out.append(SettleFunding(f"c{n}", symbol, clock))
    return out


def check(engine: Engine) -> None:
    engine.ledger.check_conservation()
    threshold = engine.rulebook.conventions.auto_exchange_threshold_usd or Decimal(0)
    for account, value in engine.ledger.balances().items():
        owner = engine.accounts.get(account.owner)
        if account.kind is AccountKind.WALLET and owner is not None and owner.asset_mode == "multi":
            assert value >= -threshold, (account, value)  # a USD debt the pool backs
        elif account.kind in USER_KINDS or account.kind is AccountKind.INSURANCE:
            assert value >= 0, (account, value)
    for state in engine.accounts.values():
        assert all(p.size > 0 for p in state.positions.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    stream = commands(args.commands, args.seed)
    engine = Engine(load_rulebook("generic"))
    codes: dict[str, int] = {}
    start = time.perf_counter()
    for index, command in enumerate(stream):
        code = engine.execute(command).code.value
        codes[code] = codes.get(code, 0) + 1
        if index % 100 == 0:
            check(engine)
    elapsed = time.perf_counter() - start
    check(engine)
    replayed = Engine(load_rulebook("generic"))
    for command in stream:
        replayed.execute(command)
    assert replayed.state_hash() == engine.state_hash(), "replay diverged"
    liquidations = sum(state.liquidations for state in engine.accounts.values())
    multi = sum(state.liquidations for state in engine.accounts.values() if state.asset_mode == "multi")
    print(
        f"soak: {len(stream)} commands in {elapsed:.1f} s = {len(stream) / elapsed:,.0f} commands/s, "
        f"invariants held every 100 commands, replay hash equal, {liquidations} liquidations "
        f"({multi} of multi-asset pools)"
    )
    print("result codes: " + ", ".join(f"{code} {count}" for code, count in sorted(codes.items())))
    floor = baseline(len(stream))
    print(f"baseline, one ledger group per command: {floor:,.0f} groups/s; ratio {len(stream) / elapsed / floor:.3f}")


if __name__ == "__main__":
    main()
