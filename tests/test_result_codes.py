"""Every code of the closed result list is produced by some command, and each is tested here."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import pytest

from crossmargin.engine.codec import decode_command
from crossmargin.engine.commands import (
    ApproveCollateral,
    CancelOrder,
    Command,
    Deposit,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    ResultCode,
    SetLeverage,
    SetMarginMode,
    SettleFunding,
    Stake,
    Unstake,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook


def _engine(venue: str = "generic") -> Engine:
    engine = Engine(load_rulebook(venue))
    asset = "USDC" if venue == "hyperliquid" else "USD"
    symbol = "BTC" if venue == "hyperliquid" else "BTC-PERP"
    engine.execute(Deposit("fund", "insurance", asset, D(1000000)))
    engine.execute(Deposit("dep", "alice", asset, D(20000)))
    engine.execute(MarketUpdate("m0", symbol, 1, mark=D(50000)))
    return engine


def _opened(engine: Engine) -> Engine:
    assert engine.execute(PlaceOrder("open", "alice", "BTC-PERP", "buy", D("0.5"))).code.accepted
    return engine


def _cooling(_: Engine) -> Engine:
    """A Hyperliquid account just partially liquidated: adding risk in the cooldown is refused."""
    engine = _engine("hyperliquid")
    assert engine.execute(PlaceOrder("open", "alice", "BTC", "buy", D(3))).code.accepted
    account = engine.accounts["alice"]
    mark = D(50000)
    while "BTC" in account.positions and account.liquidations == 0:
        mark -= 50
        engine.execute(MarketUpdate(f"m{mark}", "BTC", 2, mark=mark))
    assert account.cooldown_until_ms > engine.now_ms
    return engine


def _empty_book(engine: Engine) -> Engine:
    update = {
        "kind": "depth_update",
        "command_id": "book",
        "symbol": "BTC-PERP",
        "timestamp_ms": 2,
        "bids": [["49990", "1"]],
        "asks": [],
    }
    assert engine.execute(decode_command(update)).code.accepted
    return engine


def _same(engine: Engine) -> Engine:
    return engine


CASES: list[tuple[ResultCode, Callable[[Engine], Engine], Command]] = [
    (ResultCode.ACCEPTED, _same, Deposit("x", "alice", "USD", D(1))),
    (ResultCode.INSUFFICIENT_MARGIN, _same, PlaceOrder("x", "alice", "BTC-PERP", "buy", D(10))),
    (ResultCode.INSUFFICIENT_BALANCE, _same, Stake("x", "alice", "USD", D(30000), 1, 2)),
    (ResultCode.WOULD_BREACH_WITHDRAWABLE, _opened, Withdraw("x", "alice", "USD", D(19000))),
    (ResultCode.UNKNOWN_SYMBOL, _same, PlaceOrder("x", "alice", "DOGE-USDT", "buy", D(1))),
    (ResultCode.UNKNOWN_ACCOUNT, _same, Withdraw("x", "nobody", "USD", D(1))),
    (ResultCode.UNKNOWN_ORDER, _same, CancelOrder("x", "alice", "o999")),
    (ResultCode.NO_MARK_PRICE, _same, PlaceOrder("x", "alice", "ETH-PERP", "buy", D(1))),
    (ResultCode.REDUCE_ONLY_VIOLATION, _same, PlaceOrder("x", "alice", "BTC-PERP", "sell", D(1), reduce_only=True)),
    (
        ResultCode.POST_ONLY_WOULD_TAKE,
        _same,
        PlaceOrder("x", "alice", "BTC-PERP", "sell", D(1), OrderType.LIMIT, price=D(49000), post_only=True),
    ),
    (
        ResultCode.LOCKED_COLLATERAL,
        lambda e: (e.execute(Stake("s", "alice", "USD", D(1000), 1, 10**9)), e)[1],
        Unstake("x", "alice", "USD", 5),
    ),
    (
        ResultCode.COLLATERAL_NOT_APPROVED,
        lambda e: (e.execute(ApproveCollateral("a", "alice", "USD", False)), e)[1],
        PlaceOrder("x", "alice", "BTC-PERP", "buy", D("0.1")),
    ),
    (ResultCode.ACCOUNT_LIQUIDATING, _cooling, PlaceOrder("x", "alice", "BTC", "buy", D("0.1"))),
    (ResultCode.LEVERAGE_ABOVE_TIER, _same, SetLeverage("x", "alice", "BTC-PERP", D(51))),
    (ResultCode.POSITION_OPEN, _opened, SetMarginMode("x", "alice", "BTC-PERP", "isolated")),
    (ResultCode.NO_LIQUIDITY, _empty_book, PlaceOrder("x", "alice", "BTC-PERP", "buy", D("0.1"))),
    (ResultCode.INVALID_ARGUMENT, _same, Deposit("x", "alice", "USD", D("-5"))),
    (ResultCode.NO_FUNDING_DUE, _same, SettleFunding("x", "BTC-PERP", 3_600_000)),  # BTC-PERP funds every 8 h
]


@pytest.mark.parametrize(("code", "prepare", "command"), CASES, ids=[case[0].value for case in CASES])
def test_code(code, prepare, command):
    engine = prepare(_engine())
    assert engine.execute(command).code is code
    engine.ledger.check_conservation()


def test_duplicate_id_mismatch():
    engine = _engine()
    engine.execute(Deposit("same", "alice", "USD", D(1)))
    assert engine.execute(Deposit("same", "alice", "USD", D(2))).code is ResultCode.DUPLICATE_ID_MISMATCH


def test_stale_price_is_covered_by_the_oracle_tests():
    from tests import test_engine_oracle

    assert test_engine_oracle.test_a_stale_mark_refuses_new_risk_but_allows_reducing


def test_every_code_of_the_closed_list_is_covered():
    covered = {case[0] for case in CASES} | {ResultCode.DUPLICATE_ID_MISMATCH, ResultCode.STALE_PRICE}
    assert covered == set(ResultCode)
