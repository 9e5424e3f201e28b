"""Golden tests: Binance's published worked examples, reproduced to the displayed digit.

Sources (reference/venue-rules.md §1, §2, §9.2(a), §10):
- Binance USDⓈ-M liquidation-price FAQ, https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93
  (rows W1-W4; the same numbers are freqtrade's tests/exchange/test_binance.py::test_liquidation_price_binance,
  rows F1-F4).
- Binance Square support reply, https://www.binance.bh/square/post/28417244212674 (W6).
- Binance COIN-M liquidation FAQ,
  https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (W10, W11).
- Binance COIN-M leverage FAQ, https://www.binance.com/en/support/faq/be2c7d9d95b04a7e8044ed02dd7dfe5c (W12).
- Binance cost-to-open FAQ (2020 version),
  https://www.binance.com/en/support/faq/87fa7ee33b574f7084d42bd2ce2e463b (W13).
"""

from __future__ import annotations

import decimal
from decimal import Decimal as D
from fractions import Fraction

import pytest

from crossmargin.margin import PoolInput, Side, pool_figures, position_figures, price_pair
from crossmargin.margin.evaluate import cross_prices, isolated_report
from crossmargin.margin.orders import cost_to_open
from crossmargin.margin.position import maintenance_margin, maintenance_rate
from crossmargin.rules.checks import next_maintenance_amount
from crossmargin.units import exact_context
from tests.conftest import make_instrument, make_position

WALLET = "1535443.01"


def _faq_positions(mode: str = "cross"):  # type: ignore[no-untyped-def]
    eth = make_instrument("ETHUSDT", tick="0.01")
    btc = make_instrument("BTCUSDT", tick="0.10")
    iso = WALLET if mode == "isolated" else None
    eth_long = make_position(
        eth, "long", "3683.979", "1456.84", "1335.18", mode=mode, mmr="0.10", amount="135365", isolated_margin=iso
    )
    btc_long = make_position(
        btc, "long", "109.488", "32481.98", "31967.27", mode=mode, mmr="0.025", amount="16300", isolated_margin=iso
    )
    return eth_long, btc_long


def _two_dp(value: D) -> D:
    """The FAQ displays two decimals, rounded half up."""
    return value.quantize(D("0.01"), rounding=decimal.ROUND_HALF_UP, context=decimal.Context())


@pytest.mark.parametrize(
    ("index", "expected_faq", "expected_tick"),
    [
        (0, "1153.26", "1153.26"),  # W1 / F3: ETHUSDT cross, BTC frozen at 31,967.27
        (1, "26316.89", "26316.90"),  # W2 / F4: BTCUSDT cross (tick 0.10, rounded up for a long)
    ],
)
def test_w1_w2_cross_liquidation_price(binance_conventions, index, expected_faq, expected_tick):
    positions = _faq_positions()
    with exact_context():
        figures = pool_figures(PoolInput("USDT", D(WALLET), positions), binance_conventions)
        pair = cross_prices(figures, binance_conventions)[index]
    assert pair.liquidation_exact is not None
    assert _two_dp(pair.liquidation_exact) == D(expected_faq)
    assert pair.liquidation_price == D(expected_tick)


def test_w1_exact_value_as_recomputed(binance_conventions):
    """venue-rules §10 W1 gives the unrounded ETH root 1,153.2565."""
    with exact_context():
        figures = pool_figures(PoolInput("USDT", D(WALLET), _faq_positions()), binance_conventions)
        pair = cross_prices(figures, binance_conventions)[0]
    assert pair.liquidation_exact is not None
    assert pair.liquidation_exact.quantize(D("0.0001"), rounding=decimal.ROUND_HALF_UP) == D("1153.2565")


@pytest.mark.parametrize(("index", "expected"), [(0, "1114.78"), (1, "18778.73")])  # W3 / F1, W4 / F2
def test_w3_w4_isolated_liquidation_price(binance_conventions, index, expected):
    position = _faq_positions("isolated")[index]
    with exact_context():
        report = isolated_report(position, binance_conventions)
    assert report.prices.liquidation_exact is not None
    assert _two_dp(report.prices.liquidation_exact) == D(expected)


def test_w5_account_margin_ratio(binance_conventions):
    """W5: MM 427,713.32 / MB 1,030,895.56 = 41.49 % (intermediates of venue-rules §9.2(a))."""
    with exact_context():
        figures = pool_figures(PoolInput("USDT", D(WALLET), _faq_positions()), binance_conventions)
        eth, btc = figures.positions
        assert eth.maintenance_margin == D("356512.508122")
        assert btc.maintenance_margin == D("71200.811444")
        assert eth.unrealized_pnl == D("-448192.88514")
        assert btc.unrealized_pnl == D("-56354.56848")
        assert _two_dp(figures.maintenance_margin) == D("427713.32")
        assert _two_dp(figures.margin_balance) == D("1030895.56")
        ratio = figures.margin_ratio(binance_conventions)
    assert ratio is not None and _two_dp(ratio * 100) == D("41.49")


def test_w6_support_case_is_liquidated(binance_conventions):
    """W6: total MM 8,501.442188; WB 25,923.05553202; UPnL -17,444.086776 -> MB 8,478.96875602 < MM.

    One stand-in position carries the account's totals: mark 20,000, entry 20,000 + 17,444.086776,
    and an override giving MM = 20,000 x 0.5 - 1,498.557812 = 8,501.442188.
    """
    instrument = make_instrument("BTCUSDT")
    stand_in = make_position(instrument, "long", "1", "37444.086776", "20000", mmr="0.5", amount="1498.557812")
    with exact_context():
        figures = pool_figures(PoolInput("USDT", D("25923.05553202"), (stand_in,)), binance_conventions)
    assert figures.maintenance_margin == D("8501.442188")
    assert figures.margin_balance == D("8478.96875602")
    assert figures.is_liquidatable(binance_conventions)


@pytest.mark.parametrize(
    ("notional", "mmr", "amount", "mm"),
    [
        ("264000", "0.01", "1300", None),  # W8: 264,000 USDT sits in the 1 % tier
        ("500000", "0.01", "1300", "3700"),  # W8: 500,000 USDT -> MM 500,000 x 1 % - 1,300 = 3,700
    ],
)
def test_w8_maintenance_tiers(notional, mmr, amount, mm):
    instrument = make_instrument("BTCUSDT")
    position = make_position(instrument, "long", "1", notional, notional)
    with exact_context():
        rate = maintenance_rate(position, D(notional))
        assert (rate.mmr, rate.amount) == (D(mmr), D(amount))
        if mm is not None:
            assert maintenance_margin(D(notional), rate) == D(mm)


def test_w10_coinm_maintenance_margin():
    """W10: 100 contracts BTCUSD (100 USD each), mark 25,000, level 1 MMR 0.4 % -> MM 0.0016 BTC."""
    instrument = make_instrument(
        "BTCUSD_PERP",
        kind="inverse",
        contract_size="100",
        tick="0.1",
        brackets=[("0", "5", "125", "0.004", "0"), ("5", "10", "100", "0.005", "0.005")],
    )
    position = make_position(instrument, "long", "100", "25000", "25000")
    with exact_context():
        figures = position_figures(position, _generic_conventions())
    assert figures.notional == D("0.4")
    assert figures.maintenance_margin == D("0.0016")


def test_w11_coinm_cum_recursion():
    """W11: level 5 cum = 50 BTC x (5 % - 2.5 %) + 0.56 BTC = 1.81 BTC."""
    with exact_context():
        assert next_maintenance_amount(D("0.56"), D("50"), D("0.05"), D("0.025")) == D("1.81")


def test_w12_coinm_initial_margin():
    """W12: 10 contracts x 100 USD at 9,800, 20x -> IM 0.0051 BTC (as displayed, 4 decimals)."""
    instrument = make_instrument("BTCUSD_PERP", kind="inverse", contract_size="100", tick="0.1")
    cost = cost_to_open(instrument, Side.LONG, D("10"), D("9800"), D("9800"), D("20"))
    assert Fraction(cost.initial_margin) >= Fraction(1000, 9800 * 20)  # rounded up, never below
    assert cost.initial_margin.quantize(D("0.0001"), rounding=decimal.ROUND_HALF_UP) == D("0.0051")
    assert cost.open_loss == 0


@pytest.mark.parametrize(("side", "open_loss"), [(Side.LONG, "0"), (Side.SHORT, "6.54")])
def test_w13_cost_to_open(side, open_loss):
    """W13: 1 BTC at 9,253.30, 20x, mark 9,259.84: IM 462.66 (FAQ shows 2 decimals of 462.665).

    A long bought below the mark has no open loss; a short sold below the mark has
    1 x (9,259.84 - 9,253.30) = 6.54.
    """
    instrument = make_instrument("BTCUSDT")
    cost = cost_to_open(instrument, side, D("1"), D("9253.30"), D("9259.84"), D("20"))
    assert cost.initial_margin == D("462.665")
    assert cost.initial_margin.quantize(D("0.01"), rounding=decimal.ROUND_DOWN) == D("462.66")
    assert cost.open_loss == D(open_loss)
    assert cost.cost == cost.initial_margin + D(open_loss)


def _generic_conventions():  # type: ignore[no-untyped-def]
    from crossmargin.rules import load_rulebook

    return load_rulebook("binance-coinm").conventions if _has_coinm() else load_rulebook("generic").conventions


def _has_coinm() -> bool:
    from crossmargin.rules import available_rulebooks

    return any(row[0] == "binance-coinm" for row in available_rulebooks())


def test_price_pair_single_long_matches_textbook(binance_conventions):
    """One isolated long: LP = (Q·EP − WB − cum) / (Q·(1 − MMR)) (venue-rules §1.3)."""
    instrument = make_instrument("BTCUSDT")
    position = make_position(
        instrument, "long", "2", "30000", "30000", mode="isolated", isolated_margin="3000", mmr="0.004", amount="0"
    )
    with exact_context():
        pair = price_pair([position], D("3000"), D("3000"), binance_conventions)
    expected = Fraction(2 * 30000 - 3000) / (2 * (1 - Fraction("0.004")))
    assert pair.liquidation_exact is not None
    assert abs(Fraction(pair.liquidation_exact) - expected) < Fraction(1, 10**40)
    assert pair.bankruptcy_exact == D("28500")
