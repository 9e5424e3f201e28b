"""The engine: result codes, idempotency, fills, funding and full liquidation against the ledger."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crossmargin.engine.commands import (
    ApproveCollateral,
    CancelOrder,
    Deposit,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    ResultCode,
    SetLeverage,
    SetMarginMode,
    SettleFunding,
    TransferMargin,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import AccountKind, LedgerAccount
from crossmargin.engine.state import isolated, wallet
from crossmargin.margin.types import MarginMode
from crossmargin.rules import load_rulebook


@pytest.fixture
def engine() -> Engine:
    engine = Engine(load_rulebook("generic"))
    assert engine.execute(Deposit("seed-fund", "insurance", "USD", D(100000))).code.accepted
    assert engine.execute(Deposit("seed-alice", "alice", "USD", D(10000))).code.accepted
    assert engine.execute(
        MarketUpdate("seed-mark", "BTC-PERP", 1, mark=D(50000), funding_rate=D("0.0001"))
    ).code.accepted
    return engine


def _code(engine: Engine, command) -> ResultCode:  # type: ignore[no-untyped-def]
    result = engine.execute(command)
    engine.ledger.check_conservation()
    return result.code


def test_same_id_same_body_returns_the_stored_result(engine):
    first = engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1")))
    again = engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1")))
    assert first == again and first.code.accepted
    assert engine.accounts["alice"].positions["BTC-PERP"].size == D("0.1")  # applied once


def test_same_id_other_body_is_refused_and_changes_nothing(engine):
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1")))
    before = engine.ledger.balances()
    assert _code(engine, PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.2"))) is ResultCode.DUPLICATE_ID_MISMATCH
    assert engine.ledger.balances() == before


def test_a_rejected_id_stays_rejected(engine):
    assert _code(engine, Withdraw("w1", "alice", "USD", D(20000))) is ResultCode.WOULD_BREACH_WITHDRAWABLE
    engine.execute(Deposit("more", "alice", "USD", D(20000)))
    assert _code(engine, Withdraw("w1", "alice", "USD", D(20000))) is ResultCode.WOULD_BREACH_WITHDRAWABLE


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (PlaceOrder("x", "alice", "BTC-PERP", "buy", D(10)), ResultCode.INSUFFICIENT_MARGIN),
        (PlaceOrder("x", "alice", "NOPE", "buy", D(1)), ResultCode.UNKNOWN_SYMBOL),
        (PlaceOrder("x", "alice", "ETH-PERP", "buy", D(1)), ResultCode.NO_MARK_PRICE),
        (PlaceOrder("x", "alice", "BTC-PERP", "sell", D("0.1"), reduce_only=True), ResultCode.REDUCE_ONLY_VIOLATION),
        (
            PlaceOrder("x", "alice", "BTC-PERP", "buy", D("0.1"), OrderType.LIMIT, price=D(51000), post_only=True),
            ResultCode.POST_ONLY_WOULD_TAKE,
        ),
        (PlaceOrder("x", "alice", "BTC-PERP", "buy", D("0.00001")), ResultCode.INVALID_ARGUMENT),
        (Withdraw("x", "bob", "USD", D(1)), ResultCode.UNKNOWN_ACCOUNT),
        (Withdraw("x", "alice", "USD", D(10001)), ResultCode.WOULD_BREACH_WITHDRAWABLE),
        (Withdraw("x", "alice", "USD", D("0.0000001")), ResultCode.INVALID_ARGUMENT),
        (CancelOrder("x", "alice", "nope"), ResultCode.UNKNOWN_ORDER),
        (SetLeverage("x", "alice", "BTC-PERP", D(500)), ResultCode.LEVERAGE_ABOVE_TIER),
        (TransferMargin("x", "alice", "BTC-PERP", D(10)), ResultCode.INVALID_ARGUMENT),
        (MarketUpdate("x", "NOPE", 2, mark=D(1)), ResultCode.UNKNOWN_SYMBOL),
        (SetLeverage("x", "alice", "NOPE", D(5)), ResultCode.UNKNOWN_SYMBOL),
        (SetMarginMode("x", "alice", "NOPE", "isolated"), ResultCode.UNKNOWN_SYMBOL),
    ],
    ids=lambda value: value.value if isinstance(value, ResultCode) else "",
)
def test_rejections(engine, command, code):
    before = engine.ledger.balances()
    assert _code(engine, command) is code
    assert engine.ledger.balances() == before


def test_settings_by_ccxt_alias_apply_to_the_native_symbol(engine):
    """A leverage or margin mode set through the unified name governs the position it names."""
    assert _code(engine, SetLeverage("l", "alice", "BTC/USD:USD", D(5))) is ResultCode.ACCEPTED
    assert _code(engine, SetMarginMode("m", "alice", "BTC/USD:USD", "isolated")) is ResultCode.ACCEPTED
    account = engine.accounts["alice"]
    assert account.leverage == {"BTC-PERP": D(5)}
    assert account.margin_mode == {"BTC-PERP": MarginMode.ISOLATED}
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1")))
    assert account.positions["BTC-PERP"].margin_mode is MarginMode.ISOLATED


def test_margin_mode_cannot_change_with_a_position_open(engine):
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1")))
    assert _code(engine, SetMarginMode("m", "alice", "BTC-PERP", "isolated")) is ResultCode.POSITION_OPEN


def test_fill_books_fee_and_realized_pnl(engine):
    assert _code(engine, PlaceOrder("o1", "alice", "BTC-PERP", "buy", D(1))) is ResultCode.ACCEPTED
    engine.execute(MarketUpdate("m2", "BTC-PERP", 2, mark=D(51000)))
    assert _code(engine, PlaceOrder("o2", "alice", "BTC-PERP", "sell", D(1), reduce_only=True)) is ResultCode.ACCEPTED
    assert "BTC-PERP" not in engine.accounts["alice"].positions
    fees = engine.ledger.balance(LedgerAccount.venue(AccountKind.FEES, "USD"))
    balance = engine.ledger.balance(wallet("alice", "USD"))
    # about +1,000 of PnL less two taker fees of about 25 each (the book's spread costs a little)
    assert D(10900) < balance < D(11000) and D(50) < fees < D(52)
    assert balance + fees - D(10000) < D(1000)


def test_limit_order_rests_then_fills_as_maker_when_the_mark_crosses(engine):
    result = engine.execute(PlaceOrder("l1", "alice", "BTC-PERP", "buy", D("0.1"), OrderType.LIMIT, price=D(49000)))
    assert result.code.accepted and not engine.accounts["alice"].positions
    engine.execute(MarketUpdate("m2", "BTC-PERP", 2, mark=D(48900)))
    position = engine.accounts["alice"].positions["BTC-PERP"]
    assert (position.size, position.entry_price) == (D("0.1"), D(49000))
    fees = engine.ledger.balance(LedgerAccount.venue(AccountKind.FEES, "USD"))
    assert fees == D("0.98")  # 4,900 x 0.02 % maker


def test_funding_moves_wallets_with_the_sign_of_the_rate(engine):
    engine.execute(Deposit("b", "bob", "USD", D(10000)))
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D(1)))
    engine.execute(PlaceOrder("o2", "bob", "BTC-PERP", "sell", D(1)))
    alice, bob = engine.ledger.balance(wallet("alice", "USD")), engine.ledger.balance(wallet("bob", "USD"))
    assert _code(engine, SettleFunding("f1", "BTC-PERP", 28_800_000)) is ResultCode.ACCEPTED
    # 1 BTC x 50,000 x 0.01 % = 5: the long pays, the short receives
    assert engine.ledger.balance(wallet("alice", "USD")) == alice - 5
    assert engine.ledger.balance(wallet("bob", "USD")) == bob + 5


def test_isolated_position_takes_its_margin_and_returns_it(engine):
    engine.execute(SetMarginMode("m", "alice", "BTC-PERP", "isolated"))
    engine.execute(SetLeverage("l", "alice", "BTC-PERP", D(10)))
    assert _code(engine, PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.2"))) is ResultCode.ACCEPTED
    margin = engine.ledger.balance(isolated("alice", "USD", "BTC-PERP"))
    assert D(1000) <= margin < D(1001)  # 10,000 notional at 10x
    engine.execute(PlaceOrder("o2", "alice", "BTC-PERP", "sell", D("0.2")))
    assert engine.ledger.balance(isolated("alice", "USD", "BTC-PERP")) == 0


def test_full_liquidation_settles_at_bankruptcy_against_the_insurance_fund(engine):
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("1.5")))
    fund_before = engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, "USD"))
    result = engine.execute(MarketUpdate("crash", "BTC-PERP", 2, mark=D(43500)))
    kinds = [event["event"] for event in result.events]
    assert "liquidation_started" in kinds and "liquidation_fill" in kinds
    assert "BTC-PERP" not in engine.accounts["alice"].positions
    assert engine.ledger.balance(wallet("alice", "USD")) == 0  # equity taken at bankruptcy
    assert engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, "USD")) != fund_before
    engine.ledger.check_conservation()


def test_unapproved_collateral_backs_nothing_and_may_leave(engine):
    engine.execute(ApproveCollateral("a", "alice", "USD", False))
    assert _code(engine, PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.1"))) is ResultCode.COLLATERAL_NOT_APPROVED
    assert _code(engine, Withdraw("w1", "alice", "USD", D(100))) is ResultCode.ACCEPTED  # nothing holds it back


def test_revoking_collateral_that_positions_rely_on_is_refused(engine):
    engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D(1)))
    assert _code(engine, ApproveCollateral("a", "alice", "USD", False)) is ResultCode.INSUFFICIENT_MARGIN
    assert "USD" not in engine.accounts["alice"].revoked


def test_staked_collateral_backs_margin_but_stays_locked_until_its_time(engine):
    from crossmargin.engine.commands import Stake, Unstake
    from crossmargin.engine.state import staked

    assert _code(engine, Stake("s1", "alice", "USD", D(8000), 0, 86_400_000, D("0.1"))) is ResultCode.ACCEPTED
    assert engine.ledger.balance(wallet("alice", "USD")) == D(2000)
    # 0.5 BTC at 50,000 needs 2,500 of initial margin: the wallet alone has 2,000, the stake backs it
    assert _code(engine, PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.5"))) is ResultCode.ACCEPTED
    assert _code(engine, Withdraw("w1", "alice", "USD", D(3000))) is ResultCode.WOULD_BREACH_WITHDRAWABLE
    assert _code(engine, Unstake("u1", "alice", "USD", 3_600_000)) is ResultCode.LOCKED_COLLATERAL
    assert _code(engine, Unstake("u2", "alice", "USD", 86_400_000)) is ResultCode.ACCEPTED
    assert engine.ledger.balance(staked("alice", "USD")) == 0
    # one day at 10 % a year on 8,000: 2.191780 (rounded down)
    fees = engine.ledger.balance(LedgerAccount.venue(AccountKind.FEES, "USD"))
    assert engine.ledger.balance(wallet("alice", "USD")) == D(10000) - fees + D("2.191780")


def test_market_orders_walk_a_depth_snapshot_when_one_is_given(engine):
    from crossmargin.engine.codec import decode_command

    update = decode_command(
        {
            "kind": "depth_update",
            "command_id": "d1",
            "symbol": "BTC-PERP",
            "timestamp_ms": 2,
            "bids": [["49990", "1"]],
            "asks": [["50010", "0.5"], ["50100", "2"]],
        }
    )
    assert engine.execute(update).code.accepted
    result = engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D(1)))
    fill = next(e for e in result.events if e["event"] == "filled")
    assert D(fill["price"]) == D(50055)  # 0.5 at 50,010 and 0.5 at 50,100
    assert (
        _code(
            engine,
            decode_command(
                {
                    "kind": "depth_update",
                    "command_id": "d2",
                    "symbol": "BTC-PERP",
                    "timestamp_ms": 3,
                    "bids": [["50200", "1"]],
                    "asks": [["50100", "1"]],
                }
            ),
        )
        is ResultCode.INVALID_ARGUMENT
    )


def test_a_loss_beyond_the_wallet_settles_the_accounts_own_profits_first():
    engine = Engine(load_rulebook("generic"))
    engine.execute(Deposit("d", "carol", "USD", D(3000)))
    for symbol, mark in (("BTC-PERP", 50000), ("ETH-PERP", 3000)):
        engine.execute(MarketUpdate(f"m-{symbol}", symbol, 1, mark=D(mark)))
        engine.execute(SetLeverage(f"l-{symbol}", "carol", symbol, D(50)))
    assert engine.execute(PlaceOrder("b", "carol", "BTC-PERP", "buy", D(1))).code.accepted
    assert engine.execute(PlaceOrder("e", "carol", "ETH-PERP", "sell", D(3))).code.accepted
    engine.execute(MarketUpdate("m2", "BTC-PERP", 2, mark=D(56000)))  # +6,000 unrealised
    engine.execute(MarketUpdate("m3", "ETH-PERP", 3, mark=D(4200)))  # -3,600 unrealised, beyond the wallet
    result = engine.execute(PlaceOrder("close", "carol", "ETH-PERP", "buy", D(3)))
    assert result.code.accepted
    assert "ETH-PERP" not in engine.accounts["carol"].positions
    btc = engine.accounts["carol"].positions["BTC-PERP"]
    assert btc.entry_price == D(56000)  # its profit now sits in the wallet
    assert D(5000) < engine.ledger.balance(wallet("carol", "USD")) < D(5500)
    engine.ledger.check_conservation()


@pytest.mark.parametrize(
    "update",
    [
        MarketUpdate("u", "BTC-PERP", 1, funding_rate=D("0.0002")),
        MarketUpdate("u", "BTC-PERP", 1, index=D(50001)),
        MarketUpdate("u", "BTC-PERP", 1, last=D(49999)),
        MarketUpdate("u", "BTC-PERP", 5, mark=D(50000)),  # the same mark, a later clock
    ],
    ids=["funding_rate", "index", "last", "clock"],
)
def test_state_hash_covers_every_market_field_and_the_clock(engine, update):
    """Two engines that differ in any market field are different states, and hash differently."""
    before = engine.state_hash()
    assert engine.execute(update).code.accepted
    assert engine.state_hash() != before


def test_import_position_brings_a_position_in_as_it_stands(engine):
    from crossmargin.engine.commands import ImportPosition

    imported = engine.execute(ImportPosition("i1", "alice", "BTC-PERP", "long", D("0.5"), D("48000")))
    assert imported.code.accepted and [e["event"] for e in imported.events] == ["position_imported"]
    position = engine.accounts["alice"].positions["BTC-PERP"]
    assert (position.size, position.entry_price) == (D("0.5"), D(48000))
    assert engine.ledger.balance(wallet("alice", "USD")) == D(10000)  # no fee, no fill
    assert _code(engine, ImportPosition("i2", "alice", "BTC-PERP", "long", D(1), D(1))) is ResultCode.POSITION_OPEN
    assert _code(engine, ImportPosition("i3", "alice", "NOPE", "long", D(1), D(1))) is ResultCode.UNKNOWN_SYMBOL
    assert _code(engine, ImportPosition("i4", "alice", "ETH-PERP", "long", D(1), D(1))) is ResultCode.NO_MARK_PRICE
    bad_side = ImportPosition("i5", "bob", "BTC-PERP", "up", D(1), D(1))
    assert _code(engine, bad_side) is ResultCode.INVALID_ARGUMENT
    too_much = ImportPosition("i6", "bob", "BTC-PERP", "short", D(1), D(50000), "isolated", D(500))
    assert _code(engine, too_much) is ResultCode.INSUFFICIENT_BALANCE  # bob's wallet holds nothing


def test_an_imported_account_already_under_water_is_liquidated_at_once(engine):
    from crossmargin.engine.commands import ImportPosition

    result = engine.execute(ImportPosition("i1", "alice", "BTC-PERP", "long", D(2), D(55000)))  # -10,000 at 50,000
    assert result.code.accepted
    assert "liquidation_started" in [e["event"] for e in result.events]
    assert "BTC-PERP" not in engine.accounts["alice"].positions


def test_marks_update_moves_several_marks_at_once_and_checks_each_account_once():
    """Two longs: BTC falling alone would liquidate a pool whose ETH leg gains at the same instant.
    One marks update checks the pool at both new marks, never at the half-updated mix."""
    from crossmargin.engine.commands import ImportPosition, MarksUpdate

    engine = Engine(load_rulebook("generic"))
    engine.execute(Deposit("d", "alice", "USD", D(5500)))
    engine.execute(MarketUpdate("m1", "BTC-PERP", 1, mark=D(50000)))
    engine.execute(MarketUpdate("m2", "ETH-PERP", 1, mark=D(3000)))
    assert engine.execute(ImportPosition("i1", "alice", "BTC-PERP", "long", D(1), D(50000))).code.accepted
    assert engine.execute(ImportPosition("i2", "alice", "ETH-PERP", "short", D(10), D(3000))).code.accepted
    # BTC -10 % (-5,000) with ETH -20 % (+6,000 on the short): a gain overall; BTC alone leaves 500
    # against 450 + 300 of maintenance
    both = engine.execute(MarksUpdate("mm", 2, (("BTC-PERP", D(45000)), ("ETH-PERP", D(2400)))))
    assert both.code.accepted and "liquidation_started" not in [e["event"] for e in both.events]
    assert engine.market("BTC-PERP").mark == D(45000) and engine.market("ETH-PERP").mark == D(2400)
    alone = Engine(load_rulebook("generic"))
    for command in (Deposit("d", "alice", "USD", D(5500)), MarketUpdate("m1", "BTC-PERP", 1, mark=D(50000)),
                    MarketUpdate("m2", "ETH-PERP", 1, mark=D(3000)),
                    ImportPosition("i1", "alice", "BTC-PERP", "long", D(1), D(50000)),
                    ImportPosition("i2", "alice", "ETH-PERP", "short", D(10), D(3000))):  # fmt: skip
        alone.execute(command)
    half = alone.execute(MarketUpdate("m3", "BTC-PERP", 2, mark=D(45000)))  # the half-updated mix
    assert "liquidation_started" in [e["event"] for e in half.events]
    unknown = engine.execute(MarksUpdate("mu", 3, (("NOPE", D(1)),)))
    assert unknown.code is ResultCode.UNKNOWN_SYMBOL
    twice = engine.execute(MarksUpdate("mt", 3, (("BTC-PERP", D(1)), ("BTC-PERP", D(2)))))
    assert twice.code is ResultCode.INVALID_ARGUMENT


def test_marks_update_in_a_scenario_file_and_its_bad_forms():
    from crossmargin.engine.commands import MarksUpdate
    from crossmargin.scenario import parse_scenario
    from crossmargin.units import InputError

    step_text = '{timestamp_ms: 5, marks: [[BTC-PERP, "50000"], [ETH-PERP, "3000"]]}'
    text = f"venue: generic\nsteps:\n  - marks_update: {step_text}\n"
    (step,) = parse_scenario(text).steps
    assert step.command == MarksUpdate("step-1", 5, (("BTC-PERP", D(50000)), ("ETH-PERP", D(3000))))
    for marks, field in (
        ("[]", "marks"),
        ("[[BTC-PERP]]", r"marks\[0\]"),
        ('[[BTC-PERP, "-1"]]', r"marks\[0\]\.price"),
    ):
        with pytest.raises(InputError, match=field):
            parse_scenario(f"venue: generic\nsteps:\n  - marks_update: {{timestamp_ms: 5, marks: {marks}}}\n")
