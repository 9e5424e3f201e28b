"""Golden tests: the worked examples of Bybit, OKX, Hyperliquid, dYdX, Binance Multi-Assets and
Pionex (reference/venue-rules.md §10), each computed by the shared margin functions with only
the venue's conventions and figures changed.
"""

from __future__ import annotations

import decimal
from decimal import Decimal as D
from fractions import Fraction

import pytest

from crossmargin.margin import PoolInput, Side, evaluate_account, parse_account, pool_figures, position_figures
from crossmargin.margin.collateral import collateral_value_usd
from crossmargin.margin.evaluate import isolated_report
from crossmargin.margin.funding import (
    funding_payment,
    funding_rate_from_premium,
    margin_spread_clamp,
    premium_index,
)
from crossmargin.margin.orders import cost_to_open
from crossmargin.margin.pool import MultiAssetValuation, asset_breakdown
from crossmargin.margin.position import initial_margin_fraction
from crossmargin.rules import load_rulebook
from crossmargin.rules.schema import Collateral
from crossmargin.units import exact_context
from tests.conftest import make_instrument, make_position

BASE = load_rulebook("generic").conventions
# Bybit's classic USDT contract: maintenance of an isolated position on its entry value.
BYBIT_CLASSIC = BASE.model_copy(update={"isolated_maintenance_basis": "entry"})


def _two_dp(value: D) -> D:
    return value.quantize(D("0.01"), rounding=decimal.ROUND_HALF_UP, context=decimal.Context())


def test_w14_binance_multi_assets_equity_and_available():
    """W14, Binance "How to Calculate Margin in Multi-Assets Mode"
    (https://www.binance.com/en/support/faq/c983a9268cfa4e70a4916c276bb3b7bc): USDT 200 with index
    0.99, bid buffer 1 % and ask buffer 0.5 % (bid 0.9801, ask 0.99495); USDC 220 at 1/1.
    Equity 200 x 0.9801 + 220 = 416.02; USDT available for order 416.02 / 0.99495 = 418.13."""
    usdt = Collateral(asset="USDT", bid_buffer=D("0.01"), ask_buffer=D("0.005"), stable=True)
    usdc = Collateral(asset="USDC", stable=True)
    valuation = MultiAssetValuation(
        balances={"USDT": D(200), "USDC": D(220)},
        prices={"USDT": D("0.99"), "USDC": D(1)},
        collateral={"USDT": usdt, "USDC": usdc},
        moving=frozenset(),
    )
    with exact_context():
        assert collateral_value_usd(D(200), D("0.99"), usdt) == D("196.02")
        figures = pool_figures(PoolInput("USD", D(0), (), valuation), BASE)
        rows = {row.asset: row for row in asset_breakdown(figures, BASE)}
    assert figures.margin_balance == D("416.02")
    assert _two_dp(rows["USDT"].available) == D("418.13")


def test_multi_assets_haircut_applies_to_positive_balances_only():
    """A debt counts in full at the ask rate; a holding is haircut slice by slice (tax brackets)."""
    btc = Collateral(
        asset="BTC",
        haircut_tiers=({"floor": "0", "rate": "0.98"}, {"floor": "10", "rate": "0.95"}, {"floor": "20", "rate": "0"}),  # type: ignore[arg-type]
    )
    with exact_context():
        # 25 BTC at 1: 10 x 0.98 + 10 x 0.95 + 5 x 0 = 19.3 (venue-rules §3.4 example tiers)
        assert collateral_value_usd(D(25), D(1), btc) == D("19.3")
        assert collateral_value_usd(D(-25), D(1), btc) == D(-25)
        assert collateral_value_usd(D(5), D(2), None) == 0  # not approved: backs nothing
        assert collateral_value_usd(D(-5), D(2), None) == D(-10)  # but a debt still counts


@pytest.mark.parametrize(("side", "expected"), [("long", "19700"), ("short", "20300")])
def test_w18_w19_bybit_usdt_isolated_liquidation_price(side, expected):
    """W18, Bybit "Liquidation Price (USDT Contract)"
    (https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract): 1 BTC at 20,000,
    50x, MMR 0.5 %: IM 400, MM 100 (on the entry value), LP = 20,000 - (400 - 100) = 19,700.
    W19 is the mirror short: 20,300."""
    instrument = make_instrument("BTCUSDT", brackets=[("0", "2000000", "100", "0.005", "0")], tick="0.5")
    position = make_position(
        instrument, side, "1", "20000", "20000", mode="isolated", leverage="50", isolated_margin="400"
    )
    with exact_context():
        figures = position_figures(position, BYBIT_CLASSIC)
        report = isolated_report(position, BYBIT_CLASSIC)
    assert (figures.initial_margin, figures.maintenance_margin) == (D(400), D(100))
    assert report.prices.liquidation_exact == D(expected)


def test_w20_bybit_bankruptcy_price():
    """W20, Bybit "Bankruptcy Price (USDT)": 1 BTC long at 10,000 with 50x -> 9,800."""
    instrument = make_instrument("BTCUSDT", brackets=[("0", "2000000", "100", "0.005", "0")], tick="0.5")
    position = make_position(
        instrument, "long", "1", "10000", "10000", mode="isolated", leverage="50", isolated_margin="200"
    )
    with exact_context():
        report = isolated_report(position, BYBIT_CLASSIC)
    assert report.prices.bankruptcy_exact == D(9800)


@pytest.mark.parametrize(
    ("price", "leverage", "taker", "im", "open_fee", "close_fee", "cost"),
    [
        # W21, Bybit order cost (classic; mirrored fee article): 200 + 7.5 + 7.35 = 214.85
        ("10000", "50", "0.00075", "200", "7.5", "7.35", "214.85"),
        # W22, Bybit "Order Cost" (UTA; mirror): 5,000 + 27.5 + 24.75 = 5,052.25
        ("50000", "10", "0.00055", "5000", "27.5", "24.75", "5052.25"),
    ],
)
def test_w21_w22_bybit_order_cost(price, leverage, taker, im, open_fee, close_fee, cost):
    instrument = make_instrument("BTCUSDT", taker_fee=taker)
    result = cost_to_open(instrument, Side.LONG, D(1), D(price), D(price), D(leverage), include_fees=True)
    assert (result.initial_margin, result.fee_to_open, result.fee_to_close) == (D(im), D(open_fee), D(close_fee))
    assert result.cost == D(cost)


def test_w26_bybit_tiered_maintenance_margin():
    """W26, Bybit "Maintenance Margin (USDT Contract)" tiers 0-1k 2 %, 1k-2k 2.5 %, 2k-3k 3 %,
    3k-4k 3.5 %: position value 3,500 -> 20 + 25 + 30 + 17.5 = 3,500 x 3.5 % - 30 = 92.5."""
    instrument = make_instrument(
        "BTCUSDT",
        brackets=[
            ("0", "1000", "25", "0.02", "0"),
            ("1000", "2000", "20", "0.025", "5"),
            ("2000", "3000", "20", "0.03", "15"),
            ("3000", "4000", "20", "0.035", "30"),
        ],
    )
    position = make_position(instrument, "long", "1", "3500", "3500", leverage="10")
    with exact_context():
        assert position_figures(position, BASE).maintenance_margin == D("92.5")


def test_w29_hyperliquid_funding():
    """W29, Hyperliquid funding docs: interest 0.01 %, impact bid 10,100 over oracle 10,000 -> premium
    1 %; F(8 h) = 1 % + clamp(0.01 % - 1 %, +/-0.05 %) = 0.95 %, paid hourly at 1/8 on the oracle."""
    with exact_context():
        premium = premium_index(D(10100), D(10150), D(10000))
    assert premium == D("0.01")
    rate = funding_rate_from_premium(premium, D("0.0001"), D("0.0005"))
    assert rate == D("0.0095")
    hourly = make_instrument(
        "BTCUSDT", funding={"interval_hours": 1, "rate_basis_hours": 8, "reference_price": "oracle"}
    )
    assert funding_payment(hourly, Side.LONG, D(10), D(10000), rate) == D("-118.75")


@pytest.mark.parametrize(("leverage", "im"), [("10", "1000"), ("20", "500")])
def test_w30_hyperliquid_margin(leverage, im):
    """W30, Hyperliquid margining docs: $10,000 on a 20x-max asset -> IM $1,000 at 10x, $500 at 20x;
    MM = 1 / (2 x 20) = 2.5 % of notional = $250 at either."""
    instrument = make_instrument(
        "BTCUSDT",
        maintenance_from_max_leverage=True,
        tiers=[{"floor": "0", "max_leverage": "20"}],
        brackets=None,
    )
    position = make_position(instrument, "long", "1", "10000", "10000", leverage=leverage)
    with exact_context():
        figures = position_figures(position, BASE)
    assert (figures.initial_margin, figures.maintenance_margin) == (D(im), D(250))


def _dydx(base_imf: str, mmf: str, lower: str, upper: str):  # type: ignore[no-untyped-def]
    leverage = str(D(1) / D(base_imf))
    return make_instrument(
        "BTCUSDT",
        brackets=[("0", "1000000000", leverage, mmf, "0")],
        open_interest_imf={"base_imf": base_imf, "lower_cap": lower, "upper_cap": upper},
    )


@pytest.mark.parametrize(("open_interest", "imf"), [("35000000", "0.55"), ("10000000", "0.1"), ("60000000", "1")])
def test_w32_dydx_open_interest_scaled_imf(open_interest, imf):
    """W32, dYdX v4 x/perpetuals/types/liquidity_tier.go GetAdjustedInitialMarginPpm (genesis Small-Cap:
    base IMF 10 %, caps 20 M / 50 M): 35 M open notional -> 10 % + 90 % x 15/30 = 55 %. MM keeps the base."""
    instrument = _dydx("0.1", "0.05", "20000000", "50000000")
    with exact_context():
        assert initial_margin_fraction(instrument, D(open_interest)) == D(imf)
        position = make_position(instrument, "long", "1", "1000", "1000", leverage="10")

        scaled = position.with_open_interest(D(open_interest))
        figures = position_figures(scaled, BASE)
    assert figures.initial_margin == D(1000) * D(imf)
    assert figures.maintenance_margin == D(50)  # base MMF 5 %, not scaled


def test_w33_dydx_funding_clamp():
    """W33, dYdX v4 funding clamp 600 % x (IMF - MMF): Large-Cap 2 % / 1.2 % -> 4.8 % per 8 h."""
    instrument = _dydx("0.02", "0.012", "0", "0")
    with exact_context():
        assert margin_spread_clamp(instrument, D(6)) == D("0.048")


def test_w35_pionex_tier_two():
    """W35, Pionex blog (third party): 10 BTC at 20,000 and 20x; tier 2 MMR 1 %, amount 750
    -> IM 10,000 and MM 200,000 x 1 % - 750 = 1,250."""
    instrument = make_instrument("BTCUSDT")
    position = make_position(instrument, "long", "10", "20000", "20000", mmr="0.01", amount="750")
    with exact_context():
        figures = position_figures(position, BASE)
    assert (figures.initial_margin, figures.maintenance_margin) == (D(10000), D(1250))


def test_dydx_bankruptcy_and_fillable_price_of_a_partial_close():
    """dYdX v4 x/clob/keeper/liquidations.go (GetBankruptcyPriceInQuoteQuantums, GetFillablePrice),
    genesis bankruptcy adjustment 1.0 and spread-to-maintenance ratio 1.5, on the dydx rulebook
    (BTC-USD IMF 5 %, MMF 3 %): 1 BTC long, net collateral 2,000 at oracle 68,000 (MMR 2,040).
    Closing 0.1 BTC: dNNV = -6,800, dMMR = -204, bankruptcy quote = 6,800 - 2,000 x 204 / 2,040 = 6,600,
    i.e. 66,000 per BTC; ABR = 1 - 2,000/2,040 = 40/2,040 and FP = 68,000 - ABR x 1.5 x 2,040 = 67,940."""
    from crossmargin.margin.closing import closing_prices

    rulebook = load_rulebook("dydx")
    instrument = rulebook.instrument("BTC-USD")
    position = make_position(instrument, "long", "1", "66000", "68000", leverage="20")
    with exact_context():
        figures = pool_figures(PoolInput("USDC", D(0), (position,)), rulebook.conventions)
        assert (figures.margin_balance, figures.requirement) == (D(2000), D(2040))
        assert figures.is_liquidatable(rulebook.conventions)
        prices = closing_prices(figures, 0, D("0.1"), rulebook.conventions)
    assert prices.bankruptcy_quote == D(6600)
    assert prices.bankruptcy_price == D(66000)
    assert prices.fillable_price == D(67940)


def test_dydx_short_gives_up_margin_upward():
    from crossmargin.margin.closing import closing_prices

    rulebook = load_rulebook("dydx")
    position = make_position(rulebook.instrument("BTC-USD"), "short", "1", "70000", "68000", leverage="20")
    with exact_context():
        figures = pool_figures(PoolInput("USDC", D(-1000), (position,)), rulebook.conventions)
        prices = closing_prices(figures, 0, D("0.5"), rulebook.conventions)
    # NC = -1,000 + 2,000 = 1,000; MMR 2,040: the short buys back above the oracle
    assert prices.fillable_price > 68000 and prices.bankruptcy_price > 68000
    assert prices.bankruptcy_quote < 0


@pytest.mark.parametrize("side", ["long", "short"])
def test_hyperliquid_published_liquidation_price_formula(side):
    """Hyperliquid liquidations docs (venue-rules §5.2): liq = price - side x margin_available /
    size / (1 - l x side), l = 1 / (2 x max leverage), margin_available = isolated margin - MM.
    Checked on the hyperliquid rulebook's SOL (20x max: l = 2.5 %)."""
    rulebook = load_rulebook("hyperliquid")
    instrument = rulebook.instrument("SOL")
    position = make_position(
        instrument, side, "200", "150", "150", mode="isolated", leverage="10", isolated_margin="3000"
    )
    with exact_context():
        report = isolated_report(position, rulebook.conventions)
    s = 1 if side == "long" else -1
    leverage_rate = Fraction(1, 40)
    available = 3000 - 200 * 150 * leverage_rate
    expected = 150 - s * available / 200 / (1 - leverage_rate * s)
    assert report.prices.liquidation_exact is not None
    assert abs(Fraction(report.prices.liquidation_exact) - expected) < Fraction(1, 10**30)


@pytest.mark.parametrize("side", ["long", "short"])
def test_okx_isolated_liquidation_price_formula(side):
    """OKX isolated margin ratio = 1 (venue-rules §4.4; freqtrade Exchange.dry_run_liquidation_price):
    long LP = (EP - margin/(ctVal x n)) / (1 - (MMR + fee)), short LP = (EP + margin/(ctVal x n)) /
    (1 + (MMR + fee)). On okx's BTC-USDT-SWAP: 150 contracts of 0.01 BTC (tier 1, 0.4 %), fee 0.05 %."""
    rulebook = load_rulebook("okx")
    instrument = rulebook.instrument("BTC-USDT-SWAP")
    position = make_position(
        instrument, side, "1.5", "60000", "60000", mode="isolated", leverage="20", isolated_margin="4500"
    )
    with exact_context():
        report = isolated_report(position, rulebook.conventions)
    rate = Fraction("0.004") + Fraction(instrument.fee("liquidation_fee"))
    per_unit = Fraction(4500) / Fraction("1.5")
    expected = (60000 - per_unit) / (1 - rate) if side == "long" else (60000 + per_unit) / (1 + rate)
    assert report.prices.liquidation_exact is not None
    assert abs(Fraction(report.prices.liquidation_exact) - expected) < Fraction(1, 10**30)


@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_bybit_position_im_and_mm_are_on_the_entry_value_plus_the_fee_to_close(mode):
    """Bybit "The New Margin Calculation: Adjustments and Implications" (help centre, last updated
    2025-09-18; https://www.bybit.com/en/help-center/article/Understanding-the-Adjustment-and-Impact-of-the-New-Margin-Calculation):
    until 2025-09-02, in cross and isolated mode, position IM = size x entry / leverage + entry x
    size x (1 -/+ 1/leverage) x taker rate and position MM = size x entry x MMR - deduction + the
    same fee to close (risk tier on that entry value too). 1 BTC long at 60,000, 10x, taker
    0.055 %, mark 50,000: IM = 6,000 + 29.7, MM = 300 + 29.7, whatever the mark."""
    document = {
        "venue": "bybit",
        "balances": {"USDT": "8000"},
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000", "mark_price": "50000",
             "leverage": "10", "margin_mode": mode, **({"isolated_margin": "6029.7"} if mode == "isolated" else {})},
        ],
    }  # fmt: skip
    for mark in ("50000", "58000"):
        document["positions"][0]["mark_price"] = mark
        evaluation = evaluate_account(parse_account(document))
        figures = evaluation.pools[0].figures.positions[0] if mode == "cross" else evaluation.isolated[0].figures
        assert figures.initial_margin == D("6029.7")
        assert figures.maintenance_margin + figures.fee_requirement == D("329.7")
    if mode == "cross":  # MB = MM with MM fixed: 8,000 + (P - 60,000) = 329.7
        (pair,) = evaluation.pools[0].prices
        assert pair.liquidation_exact == D("52329.7")
