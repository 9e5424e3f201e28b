"""Hedge-mode liquidation prices: roots on both sides of the mark, and none of them moved by it.

A hedged symbol in a cross pool (a long and a short leg, Binance hedge mode) has a gap
(margin balance less maintenance) that can close on both sides of the mark: the net long
gains as the price rises, but the larger leg's bracket climbs faster. The venue's liquidation
price is where the gap reaches zero with every other mark frozen and the tier taken at that
price (Binance liquidation FAQ b3c689c1f50a44cabb3a84e663b81d93, hedge form in venue-rules.md
section 1.3); it is a function of the price alone, so the leg's own mark cannot change it.
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crossmargin.margin import PoolInput, liquidation_move, parse_account, pool_figures
from crossmargin.margin.evaluate import cross_prices, evaluate_account
from crossmargin.margin.types import MarginMode, Position, PositionSide, Side
from crossmargin.rules import load_rulebook
from crossmargin.units import MOVE_UNIT, exact_context

BINANCE = load_rulebook("binance-usdm")
CONVENTIONS = BINANCE.conventions

#: The case of the issue: long 64,000,000 and short 40,000,000 ADAUSDT at 0.36, wallet 9,000,000.
ADA_HEDGE = {
    "venue": "binance-usdm",
    "balances": {"USDT": "9000000"},
    "positions": [
        {"symbol": "ADAUSDT", "side": "long", "position_side": "long", "size": "64000000",
         "entry_price": "0.36", "mark_price": "0.36"},
        {"symbol": "ADAUSDT", "side": "short", "position_side": "short", "size": "40000000",
         "entry_price": "0.36", "mark_price": "0.36"},
    ],
}  # fmt: skip


def _binance_hedge_formula(
    wallet: Fraction,
    long_size: Fraction,
    long_entry: Fraction,
    short_size: Fraction,
    short_entry: Fraction,
    brackets: list[tuple[Fraction, Fraction, Fraction]],
) -> list[Fraction]:
    """Every price where the FAQ's hedge formula is consistent with the brackets at that price.

    LP = (WB + cumL + cumS - L x EPL + S x EPS) / (L x MMR_L + S x MMR_S - L + S), written out
    from the FAQ's definitions (no other positions: TMM1 = UPNL1 = 0), with each leg's bracket
    chosen by its notional at LP. Exact rationals, independent of the project's solver.
    """  # fmt: skip

    def bracket_of(notional: Fraction) -> int:
        return max(i for i, (floor, _, _) in enumerate(brackets) if notional >= floor)

    roots = []
    for i, j in itertools.product(range(len(brackets)), repeat=2):
        _, mmr_long, cum_long = brackets[i]
        _, mmr_short, cum_short = brackets[j]
        denominator = long_size * mmr_long + short_size * mmr_short - long_size + short_size
        if denominator == 0:
            continue
        price = (wallet + cum_long + cum_short - long_size * long_entry + short_size * short_entry) / denominator
        if price > 0 and bracket_of(long_size * price) == i and bracket_of(short_size * price) == j:
            roots.append(price)
    return sorted(roots)


def _brackets(symbol: str) -> list[tuple[Fraction, Fraction, Fraction]]:
    tiers = BINANCE.instrument(symbol).tiers
    return [(Fraction(t.floor), Fraction(t.mmr or 0), Fraction(t.maintenance_amount or 0)) for t in tiers]


def test_the_ada_hedge_liquidates_on_a_rise_at_the_faq_formula_price():
    """The root lies in a higher bracket above the mark: today's figure must not be null."""
    roots = _binance_hedge_formula(
        Fraction(9_000_000), Fraction(64_000_000), Fraction("0.36"), Fraction(40_000_000), Fraction("0.36"),
        _brackets("ADAUSDT"),
    )  # fmt: skip
    assert len(roots) == 1 and abs(roots[0] - Fraction("0.764878")) < Fraction("0.000001")
    evaluation = evaluate_account(parse_account(ADA_HEDGE))
    (pool,) = evaluation.pools
    for pair in pool.prices:  # both legs share the price
        assert pair.liquidation_exact is not None
        assert abs(Fraction(pair.liquidation_exact) - roots[0]) < Fraction(1, 10**40)  # 50 significant digits
        assert pair.liquidation_down is None and pair.liquidation_up == pair.liquidation_price
    # the pool's own answer, every mark moved at once (one symbol here), agrees to its unit
    assert pool.move.up is not None and pool.move.down is None
    assert abs(D("0.36") * (1 + pool.move.up) - pair.liquidation_exact) <= D("0.36") * MOVE_UNIT


def test_the_liquidation_price_does_not_move_with_the_legs_own_mark():
    """The same hedge at marks 0.30, 0.36 and 0.50 (all solvent) reports one price."""
    seen = set()
    for mark in ("0.30", "0.36", "0.50"):
        document = {**ADA_HEDGE, "positions": [{**p, "mark_price": mark} for p in ADA_HEDGE["positions"]]}
        (pool,) = evaluate_account(parse_account(document)).pools
        assert not pool.liquidatable
        seen.add((pool.prices[0].liquidation_exact, pool.prices[0].liquidation_price))
    assert len(seen) == 1


def _hedge_pool(instrument_symbol: str, long_notional: D, short_notional: D, entry: D, mark: D,
                wallet: D) -> PoolInput:  # fmt: skip
    instrument = BINANCE.instrument(instrument_symbol)
    lot = instrument.lot_size

    def leg(side: Side, notional: D) -> Position:
        size = max(lot, (notional / entry).quantize(lot))
        return Position(instrument, side, size, entry, mark, MarginMode.CROSS, D(20), PositionSide(side.value))

    return PoolInput("USDT", wallet, (leg(Side.LONG, long_notional), leg(Side.SHORT, short_notional)))


def _gap(pool: PoolInput, price: D) -> D:
    moved = pool._replace(positions=tuple(p.with_mark(price) for p in pool.positions))
    figures = pool_figures(moved, CONVENTIONS)
    return figures.margin_balance - figures.requirement


NOTIONALS = st.sampled_from([D(n) for n in (20_000, 400_000, 3_000_000, 9_000_000, 15_000_000, 24_000_000)])
FACTORS = st.sampled_from([D(x) for x in ("0.6", "0.8", "0.95", "1", "1.05", "1.3", "1.8")])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(["ADAUSDT", "BTCUSDT", "ETHUSDT"]),
    long_notional=NOTIONALS,
    short_notional=NOTIONALS,
    wallet_fraction=st.sampled_from([D("0.05"), D("0.15"), D("0.3"), D("0.6")]),
    first=FACTORS,
    second=FACTORS,
)
def test_a_hedge_legs_liquidation_prices_do_not_change_with_its_own_mark(
    symbol, long_notional, short_notional, wallet_fraction, first, second
):
    """Property: at any two marks where the pool is solvent, the roots below and above are the
    same, each is a zero of the pool's gap, and the gap stays positive between mark and root."""
    entry = {"ADAUSDT": D("0.36"), "BTCUSDT": D("30000"), "ETHUSDT": D("2000")}[symbol]
    wallet = ((long_notional + short_notional) * wallet_fraction).quantize(D("0.01"))
    answers = []
    for factor in (first, second):
        pool = _hedge_pool(symbol, long_notional, short_notional, entry, entry * factor, wallet)
        with exact_context():
            figures = pool_figures(pool, CONVENTIONS)
            assume(not figures.is_liquidatable(CONVENTIONS))
            pair = cross_prices(figures, CONVENTIONS)[0]
            answers.append((pair.liquidation_down, pair.liquidation_up, pair.liquidation_exact is None))
            mark = entry * factor
            for root, outward in ((pair.liquidation_down, D("-1")), (pair.liquidation_up, D("1"))):
                if root is None:
                    continue
                tick = pool.positions[0].instrument.tick_size
                assert _gap(pool, root + outward * 2 * tick) <= 0 or _gap(pool, root) <= 0  # liquidated past it
                for share in (D("0.25"), D("0.5"), D("0.9")):  # solvent on the way there
                    inside = mark + (root - mark) * share
                    if abs(inside - root) > 2 * tick:
                        assert _gap(pool, inside) > 0
    assert answers[0] == answers[1]


def test_the_move_and_the_price_agree_for_a_one_symbol_hedge():
    """With one symbol the uniform move is the price's own move: both roots are the move's."""
    with exact_context():
        pool = _hedge_pool("ADAUSDT", D(23_040_000), D(14_400_000), D("0.36"), D("0.36"), D(9_000_000))
        move = liquidation_move(pool, CONVENTIONS)
        pair = cross_prices(pool_figures(pool, CONVENTIONS), CONVENTIONS)[0]
    assert move.up is not None and pair.liquidation_up is not None
    assert abs(D("0.36") * (1 + move.up) - pair.liquidation_up) <= D("0.0002")


def test_a_multi_asset_pool_finds_the_hedges_root_above_the_mark_too():
    """The same hedge in a Multi-Assets USD pool (found by evaluating the pool, not the closed
    form): the root above the mark is found, and it is a zero of the pool's gap."""
    document = {
        **ADA_HEDGE,
        "asset_mode": "multi",
        "balances": {"USDT": "6000000", "USDC": "3000000"},
        "prices": {"USDT": "1", "USDC": "1"},
    }
    for mark in ("0.36", "0.45"):
        moved = {**document, "positions": [{**p, "mark_price": mark} for p in ADA_HEDGE["positions"]]}
        (pool,) = evaluate_account(parse_account(moved)).pools
        pair = pool.prices[0]
        assert pair.liquidation_down is None and pair.liquidation_up is not None
        assert abs(pair.liquidation_up - D("0.7648")) <= D("0.0001")
        assert pair.liquidation_price == pair.liquidation_up
