"""The engine running multi-asset pools: one USD pool of every approved asset, debts, auto-exchange.

Golden figures come from Binance's Multi-Assets info page and its auto-exchange worked example
(https://www.binance.com/en/futures/trading-rules/perpetual/multi-asset-info). The pool's figures
are the margin functions' own (the same `evaluate_account` the command line uses), checked here
against an account document built by hand.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D
from importlib import resources
from typing import Any

import pytest
import yaml

from crossmargin.engine.codec import decode_command, encode_command
from crossmargin.engine.commands import (
    ApproveCollateral,
    AssetPrice,
    Command,
    Deposit,
    MarketUpdate,
    PlaceOrder,
    ResultCode,
    SetAssetMode,
    SetMarginMode,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.engine.exchange import cover_debt, settle_debts
from crossmargin.engine.funds import withdrawable
from crossmargin.engine.ledger import AccountKind, Ledger, LedgerAccount, LedgerError, Transfer
from crossmargin.engine.state import isolated, wallet
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.rules import Rulebook, load_rulebook
from crossmargin.rules.registry import parse_rulebook
from crossmargin.scenario import parse_scenario
from crossmargin.units import InputError


def _generic_raw() -> dict[str, Any]:
    name = load_rulebook("generic").source_path
    text = (resources.files("crossmargin.rules.data") / name).read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


def _rulebook(btc_rate: str = "0.95", with_eth: bool = False) -> Rulebook:
    """The generic venue with a flat BTC collateral ratio (and optionally ETH as collateral too)."""
    raw = copy.deepcopy(_generic_raw())
    for entry in raw["collateral"]:
        if entry["asset"] == "BTC":
            entry["haircut_tiers"] = [{"floor": "0", "rate": btc_rate}]
    if with_eth:
        raw["assets"]["ETH"] = {"decimals": 8}
        raw["collateral"].append({"asset": "ETH", "haircut_tiers": [{"floor": "0", "rate": "0.9"}]})
    return parse_rulebook(raw, origin="generic-test")


class Driver:
    """An engine with a command counter, so a test reads as a list of commands."""

    def __init__(self, rulebook: Rulebook) -> None:
        self.engine = Engine(rulebook, keep_journal=True)
        self.count = 0

    def __call__(self, cls: type[Command], **fields: Any) -> Any:
        self.count += 1
        return self.engine.execute(cls(f"c{self.count}", **fields))

    def balance(self, account: str, asset: str) -> D:
        return self.engine.ledger.balance(wallet(account, asset))


def _multi_account(driver: Driver, btc: str = "1", btc_price: str = "60000") -> None:
    driver(Deposit, account="alice", asset="BTC", amount=D(btc))
    assert driver(SetAssetMode, account="alice", mode="multi").code is ResultCode.ACCEPTED
    driver(AssetPrice, asset="BTC", timestamp_ms=1, price=D(btc_price))


def _make_debt(driver: Driver, account: str, asset: str, amount: D) -> None:
    """A realised loss booked straight into the wallet: the debt a losing close leaves."""
    driver.engine.post([Transfer(wallet(account, asset), driver.engine.clearing(asset), amount, "test_loss")])


def test_w16_auto_exchange_sells_debt_over_collateral_ratio():
    """Binance's Multi-Assets info page, worked example: a -20,000 balance against BTC at a
    97.5 % collateral ratio sells 20,000 / 0.975 = 20,512.82 worth of BTC; the excess stays."""
    driver = Driver(_rulebook(btc_rate="0.975"))
    _multi_account(driver, btc="2", btc_price="20000")
    _make_debt(driver, "alice", "USD", D(20000))
    events = cover_debt(driver.engine, driver.engine.accounts["alice"], "USD", "threshold")
    (event,) = events
    sold, bought = D(event["sold"]), D(event["bought"])
    assert sold == D("1.02564103")  # 20,000 / 0.975 / 20,000 BTC, rounded up to the satoshi
    assert bought == D("20512.8206")  # 20,513 in Binance's rounding; the proceeds round down
    assert abs(bought - D(20513)) < 1
    assert driver.balance("alice", "USD") == D("512.8206")
    assert driver.balance("alice", "BTC") == D(2) - sold
    driver.engine.ledger.check_conservation()


def test_threshold_trigger_runs_after_the_command_that_crosses_it():
    driver = Driver(_rulebook())
    _multi_account(driver)
    _make_debt(driver, "alice", "USD", D(9000))
    assert settle_debts(driver.engine, driver.engine.ledger.debts) == []  # 9,000 <= 10,000: the pool carries the debt
    _make_debt(driver, "alice", "USD", D(1001))
    (event,) = settle_debts(driver.engine, driver.engine.ledger.debts)
    assert event["reason"] == "threshold" and event["sold_asset"] == "BTC"
    assert driver.balance("alice", "USD") > 0
    assert not driver.engine.ledger.debts


def test_debt_with_no_position_and_no_collateral_left_is_paid_by_the_fund():
    """LTV >= 1 with no position: everything approved is sold, the rest is bad debt for the fund."""
    driver = Driver(_rulebook())
    driver(Deposit, account="insurance", asset="USD", amount=D(1000))
    _multi_account(driver, btc="0.001")  # 0.001 x 60,000 x 0.95 = 57 USD of collateral
    _make_debt(driver, "alice", "USD", D(50))
    result = driver(AssetPrice, asset="BTC", timestamp_ms=2, price=D(40000))  # collateral 38 < debt 50
    names = [e["event"] for e in result.events]
    assert names[:3] == ["asset_price", "auto_exchange", "insurance_fund"]
    assert driver.balance("alice", "BTC") == 0 and driver.balance("alice", "USD") == 0
    fund = driver.engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, "USD"))
    assert fund == D(1000) - (D(50) - D(40))  # 0.001 BTC sold for 40 USD, the fund pays 10
    driver.engine.ledger.check_conservation()


def test_ledger_allows_a_debt_only_on_a_multi_asset_wallet():
    ledger = Ledger()
    clearing = LedgerAccount.venue(AccountKind.CLEARING, "USD")
    with pytest.raises(LedgerError):
        ledger.post([Transfer(wallet("a", "USD"), clearing, D(1), "loss")])
    ledger.debt_owners.add("a")
    ledger.post([Transfer(wallet("a", "USD"), clearing, D(1), "loss")])
    assert ledger.debts == {wallet("a", "USD")}
    with pytest.raises(LedgerError):  # isolated margin and other kinds never carry a debt
        ledger.post([Transfer(isolated("a", "USD", "BTC-PERP"), clearing, D(1), "loss")])
    ledger.post([Transfer(clearing, wallet("a", "USD"), D(1), "repay")])
    assert ledger.debts == set()


def test_engine_pool_is_the_margin_functions_pool_of_the_same_account():
    """One implementation: the engine's multi-asset pool equals `crossmargin evaluate` on the same
    balances, prices and position, written as an account document."""
    driver = Driver(load_rulebook("binance-usdm"))
    driver(Deposit, account="alice", asset="USDT", amount=D(3000))
    driver(Deposit, account="alice", asset="USDC", amount=D(2500))
    driver(SetAssetMode, account="alice", mode="multi")
    driver(MarketUpdate, symbol="BTCUSDT", timestamp_ms=1, mark=D(62500))
    order = {"account": "alice", "symbol": "BTCUSDT", "side": "buy", "quantity": D("0.25")}
    assert driver(PlaceOrder, **order).code is ResultCode.NO_MARK_PRICE  # USDT has no USD price yet
    driver(AssetPrice, asset="USDT", timestamp_ms=1, price=D("0.9995"))
    driver(AssetPrice, asset="USDC", timestamp_ms=1, price=D("1.0001"))
    assert driver(PlaceOrder, **order).code is ResultCode.ACCEPTED
    account = driver.engine.accounts["alice"]
    position = account.positions["BTCUSDT"]
    document = {
        "venue": "binance-usdm",
        "asset_mode": "multi",
        "balances": {a: str(driver.balance("alice", a)) for a in ("USDT", "USDC")},
        "prices": {"USDT": "0.9995", "USDC": "1.0001"},
        "positions": [
            {
                "symbol": "BTCUSDT",
                "side": "long",
                "size": str(position.size),
                "entry_price": str(position.entry_price),
                "mark_price": "62500",
            }
        ],
    }
    (expected,) = evaluate_account(parse_account(document), with_prices=False).pools
    (engine_pool,) = driver.engine.evaluate(account).pools
    assert engine_pool.figures.pool.settlement_asset == "USD"
    for name in ("wallet_balance", "margin_balance", "maintenance_margin", "initial_margin", "max_withdrawable"):
        assert getattr(engine_pool.figures, name) == getattr(expected.figures, name), name


def test_withdrawable_per_asset_is_the_pools_at_the_asset_price():
    driver = Driver(_rulebook())
    _multi_account(driver)  # 1 BTC at 60,000: 57,000 USD of collateral
    driver(MarketUpdate, symbol="ETH-PERP", timestamp_ms=1, mark=D(3000))
    assert driver(PlaceOrder, account="alice", symbol="ETH-PERP", side="buy", quantity=D(100)).code.accepted
    account = driver.engine.accounts["alice"]
    (pool,) = driver.engine.evaluate(account).pools
    expected = (pool.figures.max_withdrawable / D(60000)).quantize(D("0.00000001"), rounding="ROUND_FLOOR")
    assert withdrawable(driver.engine, account, "BTC") == expected
    assert driver(Withdraw, account="alice", asset="BTC", amount=expected + D("0.00000001")).code is (
        ResultCode.WOULD_BREACH_WITHDRAWABLE
    )
    assert driver(Withdraw, account="alice", asset="BTC", amount=expected).code.accepted
    assert withdrawable(driver.engine, account, "USD") == 0  # it owes the fee: nothing to take out


def test_unapproved_collateral_is_neither_sold_nor_taken_by_a_liquidation():
    driver = Driver(_rulebook(with_eth=True))
    driver(Deposit, account="insurance", asset="USD", amount=D(100000))
    driver(Deposit, account="alice", asset="ETH", amount=D(10))
    _multi_account(driver, btc="0.2")
    driver(AssetPrice, asset="ETH", timestamp_ms=1, price=D(3000))
    driver(ApproveCollateral, account="alice", asset="ETH", approved=False)
    driver(MarketUpdate, symbol="BTC-PERP", timestamp_ms=1, mark=D(60000))
    driver(SetMarginMode, account="alice", symbol="BTC-PERP", mode="cross")
    assert driver(PlaceOrder, account="alice", symbol="BTC-PERP", side="buy", quantity=D("1")).code.accepted
    driver(AssetPrice, asset="BTC", timestamp_ms=2, price=D(50000))
    result = driver(MarketUpdate, symbol="BTC-PERP", timestamp_ms=2, mark=D(50000))
    assert "liquidation_started" in [e["event"] for e in result.events]
    assert driver.balance("alice", "ETH") == 10  # unapproved: untouched
    sold = {e["sold_asset"] for e in result.events if e["event"] == "auto_exchange"}
    assert sold == {"BTC"}
    driver.engine.ledger.check_conservation()


@pytest.mark.parametrize(
    ("venue", "setup", "mode", "code"),
    [
        ("hyperliquid", [], "multi", ResultCode.INVALID_ARGUMENT),  # the venue offers no such mode
        ("generic", ["position"], "multi", ResultCode.POSITION_OPEN),
        ("generic", ["isolated"], "multi", ResultCode.INVALID_ARGUMENT),  # multi-asset is cross only
        ("generic", ["multi", "debt"], "single", ResultCode.INSUFFICIENT_BALANCE),
        ("generic", [], "both", ResultCode.INVALID_ARGUMENT),
    ],
)
def test_asset_mode_switch_refusals(venue, setup, mode, code):
    rulebook = load_rulebook(venue)
    driver = Driver(rulebook)
    asset = rulebook.data.instruments[0].settlement_asset
    symbol = rulebook.data.instruments[0].symbol
    driver(Deposit, account="alice", asset=asset, amount=D(100000))
    if "position" in setup:
        driver(MarketUpdate, symbol=symbol, timestamp_ms=1, mark=D(50000))
        assert driver(PlaceOrder, account="alice", symbol=symbol, side="buy", quantity=D("0.01")).code.accepted
    if "isolated" in setup:
        driver(SetMarginMode, account="alice", symbol=symbol, mode="isolated")
    if "multi" in setup:
        driver(SetAssetMode, account="alice", mode="multi")
    if "debt" in setup:
        driver(Deposit, account="alice", asset="BTC", amount=D(1))
        driver(AssetPrice, asset="BTC", timestamp_ms=1, price=D(60000))
        _make_debt(driver, "alice", asset, D(100100))
    assert driver(SetAssetMode, account="alice", mode=mode).code is code


def test_isolated_mode_is_refused_in_a_multi_asset_account():
    driver = Driver(_rulebook())
    _multi_account(driver)
    assert driver(SetMarginMode, account="alice", symbol="BTC-PERP", mode="isolated").code is (
        ResultCode.INVALID_ARGUMENT
    )


@pytest.mark.parametrize(("asset", "price"), [("USD", "1"), ("DOGE", "0.1"), ("BTC", "0"), ("BTC", "-5")])
def test_asset_price_refusals(asset, price):
    driver = Driver(_rulebook())
    assert driver(AssetPrice, asset=asset, timestamp_ms=1, price=D(price)).code is ResultCode.INVALID_ARGUMENT


def test_an_asset_without_a_price_backs_nothing_yet():
    driver = Driver(_rulebook())
    driver(Deposit, account="alice", asset="BTC", amount=D(1))
    driver(SetAssetMode, account="alice", mode="multi")
    driver(MarketUpdate, symbol="ETH-PERP", timestamp_ms=1, mark=D(3000))
    order = {"account": "alice", "symbol": "ETH-PERP", "side": "buy", "quantity": D(1)}
    assert driver(PlaceOrder, **order).code is ResultCode.INSUFFICIENT_MARGIN
    assert withdrawable(driver.engine, driver.engine.accounts["alice"], "BTC") == 1
    driver(AssetPrice, asset="BTC", timestamp_ms=2, price=D(60000))
    assert driver(PlaceOrder, **order).code.accepted


def test_state_hash_covers_asset_prices_and_modes():
    one, two = Driver(_rulebook()), Driver(_rulebook())
    for driver in (one, two):
        driver(Deposit, account="alice", asset="USD", amount=D(10))
    one(AssetPrice, asset="BTC", timestamp_ms=1, price=D(60000))
    two(AssetPrice, asset="BTC", timestamp_ms=1, price=D(60001))
    assert one.engine.state_hash() != two.engine.state_hash()
    two(AssetPrice, asset="BTC", timestamp_ms=1, price=D(60000))
    assert one.engine.state_hash() == two.engine.state_hash()
    one(SetAssetMode, account="alice", mode="multi")
    assert one.engine.state_hash() != two.engine.state_hash()


@pytest.mark.parametrize(
    "command",
    [SetAssetMode("x1", "alice", "multi"), AssetPrice("x2", "BTC", 5, D("60000.5"))],
)
def test_new_commands_travel_through_the_codec_unchanged(command):
    """The store logs commands as JSON and replays them: encoding and decoding must round-trip."""
    assert decode_command(encode_command(command)) == command


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ("set_asset_mode: {account: alice}", "mode"),
        ("asset_price: {asset: BTC, timestamp_ms: 1, price: 60000.5}", "price"),
        ('asset_price: {asset: BTC, price: "1"}', "timestamp_ms"),
    ],
)
def test_malformed_new_steps_name_their_field(step, field):
    text = f"venue: generic\nsteps:\n  - {step}\n"
    with pytest.raises(InputError, match=rf"step 1 \(\w+\)\.{field}"):
        parse_scenario(text)


def test_a_multi_asset_pool_with_staked_collateral_is_liquidated_whole():
    """Wallet and staked collateral together: the liquidation takes both (the stake backed the pool
    too) in a fixed order, and the ledger balances."""
    from crossmargin.engine.commands import Stake

    driver = Driver(_rulebook())
    driver(Deposit, account="insurance", asset="USD", amount=D(100000))
    _multi_account(driver, btc="0.3", btc_price="60000")
    assert driver(Stake, account="alice", asset="BTC", amount=D("0.1"), timestamp_ms=1, unlock_ms=10**12).code.accepted
    driver(MarketUpdate, symbol="BTC-PERP", timestamp_ms=1, mark=D(60000))
    assert driver(PlaceOrder, account="alice", symbol="BTC-PERP", side="buy", quantity=D("1")).code.accepted
    driver(AssetPrice, asset="BTC", timestamp_ms=2, price=D(46000))  # 0.3 BTC now backs 13,110
    result = driver(MarketUpdate, symbol="BTC-PERP", timestamp_ms=2, mark=D(46000))  # -14,000 on the long
    assert "liquidation_started" in [e["event"] for e in result.events]
    staked = driver.engine.ledger.balance(LedgerAccount("alice", AccountKind.STAKED, "BTC"))
    assert staked == 0 and driver.balance("alice", "BTC") == 0
    driver.engine.ledger.check_conservation()
