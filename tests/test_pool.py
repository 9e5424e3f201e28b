"""Pool figures under each venue rule for positive PnL, collateral approval and null prices."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crossmargin.margin import PoolInput, evaluate_account, parse_account, pool_figures
from crossmargin.margin.evaluate import isolated_report
from crossmargin.rules import load_rulebook
from crossmargin.units import exact_context
from tests.conftest import make_instrument, make_position

BINANCE = load_rulebook("binance-usdm").conventions
INSTRUMENT = make_instrument("BTCUSDT")


def _pool(mark: str) -> PoolInput:
    # 2 BTC long from 30,000 at 10x on the freqtrade BTCUSDT table; wallet 10,000
    position = make_position(INSTRUMENT, "long", "2", "30000", mark, leverage="10")
    return PoolInput("USDT", D("10000"), (position,))


def _figures(pool: PoolInput, **rules: str):  # type: ignore[no-untyped-def]
    conventions = BINANCE.model_copy(update={"positive_pnl": BINANCE.positive_pnl.model_copy(update=rules)})
    with exact_context():
        return pool_figures(pool, conventions)


def test_binance_profit_counts_for_maintenance_and_orders_but_is_never_withdrawable():
    figures = _figures(_pool("33000"))  # +6,000 unrealised, notional 66,000 (tier 2: 0.5 %, 50)
    assert figures.margin_balance == D("16000")
    assert figures.initial_margin == D("6600")
    assert figures.maintenance_margin == D("280")
    assert figures.available_balance == D("9400")  # 10,000 + 6,000 - 6,600
    # min(wallet - MM, wallet + PnL - IM) = min(9,720, 9,400): the profit itself never leaves
    assert figures.max_withdrawable == D("9400")
    losing = _figures(_pool("29000"))  # -2,000 unrealised, IM 5,800, MM 240
    assert losing.max_withdrawable == D("10000") - 2000 - D("5800")
    assert _figures(_pool("27000")).max_withdrawable == 0  # never negative


def test_profit_rules_none_and_full():
    none = _figures(_pool("33000"), maintenance="none", new_orders="none", withdrawals="none")
    assert none.margin_balance == D("10000")
    assert none.available_balance == D("3400")
    assert none.max_withdrawable == D("3400")
    full = _figures(_pool("33000"), withdrawals="full")
    assert full.max_withdrawable == D("9400")  # wallet + profit - IM: the profit may leave here


def test_minimum_remaining_margin_as_a_fraction_of_notional():
    """Hyperliquid keeps max(IM, 10 % of notional) behind on a withdrawal."""
    conventions = BINANCE.model_copy(
        update={
            "withdrawal_min_margin_notional_fraction": D("0.1"),
            "positive_pnl": BINANCE.positive_pnl.model_copy(update={"withdrawals": "full"}),
        }
    )
    with exact_context():
        figures = pool_figures(_pool("33000"), conventions)
    assert figures.max_withdrawable == D("16000") - D("6600")  # 10 % of 66,000 = 6,600 = IM here
    with exact_context():
        figures = pool_figures(
            PoolInput("USDT", D("10000"), (make_position(INSTRUMENT, "long", "2", "30000", "33000", leverage="20"),)),
            conventions,
        )
    assert figures.initial_margin == D("3300")
    assert figures.max_withdrawable == D("16000") - D("6600")  # the 10 % floor binds, not IM


def _account(collateral: list[str] | None) -> dict[str, object]:
    account: dict[str, object] = {
        "venue": "binance-usdm",
        "balances": {"USDT": "5000", "USDC": "3000"},
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "size": "0.1", "entry_price": "60000", "mark_price": "60000"}
        ],
    }
    if collateral is not None:
        account["collateral"] = collateral
    return account


def test_unapproved_collateral_backs_nothing():
    approved = evaluate_account(parse_account(_account(None)))
    wallets = {p.figures.pool.settlement_asset: p.figures.wallet_balance for p in approved.pools}
    assert wallets == {"USDC": D("3000"), "USDT": D("5000")}
    only_usdc = evaluate_account(parse_account(_account(["USDC"])))
    pools = {p.figures.pool.settlement_asset: p for p in only_usdc.pools}
    assert pools["USDT"].figures.wallet_balance == 0
    assert pools["USDT"].liquidatable  # the BTCUSDT long has no margin behind it


def test_a_debt_counts_even_when_not_approved():
    account = _account(["USDC"])
    account["balances"] = {"USDT": "-200", "USDC": "3000"}
    pools = {p.figures.pool.settlement_asset: p for p in evaluate_account(parse_account(account)).pools}
    assert pools["USDT"].figures.wallet_balance == D("-200")


def test_liquidation_price_at_or_below_zero_is_null():
    """A 1x isolated long cannot be liquidated by any positive price (venue-rules §12.16)."""
    position = make_position(
        INSTRUMENT, "long", "1", "30000", "30000", mode="isolated", leverage="1", isolated_margin="30000"
    )
    with exact_context():
        report = isolated_report(position, BINANCE)
    assert report.prices.liquidation_price is None
    assert report.prices.bankruptcy_price is None


@pytest.mark.parametrize("leg", ["long", "short"])
def test_isolated_hedge_legs_are_independent(leg):
    alone = make_position(
        INSTRUMENT, leg, "1", "30000", "30500", mode="isolated", leverage="20", isolated_margin="1500", leg=leg
    )
    with exact_context():
        report = isolated_report(alone, BINANCE)
    assert report.prices.liquidation_exact is not None
    # isolated margin 1,500 on a 30,000 position: the long liquidates below, the short above
    if leg == "long":
        assert report.prices.liquidation_exact < 30000
    else:
        assert report.prices.liquidation_exact > 30000
