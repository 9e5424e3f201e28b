"""Hypothesis properties of the margin functions (issue acceptance, foundation)."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crossmargin.margin import LiquidationMove, PoolInput, liquidation_move, pool_figures
from crossmargin.margin.evaluate import cross_prices, isolated_report
from crossmargin.margin.types import MarginMode, Position, PositionSide, Side
from crossmargin.rules import load_rulebook
from crossmargin.units import MOVE_UNIT, Rounding, exact_context, quantize
from tests.strategies import inverse_pool, linear_pool, linear_position

CONVENTIONS = load_rulebook("binance-usdm").conventions
GENERIC = load_rulebook("generic").conventions
# The same pools under the other conventions the rulebook format carries: a liquidation fee
# inside the ratio (OKX) and the fee to close inside maintenance (Bybit).
VARIANTS = {
    "binance": CONVENTIONS,
    "fee-in-ratio": CONVENTIONS.model_copy(
        update={"liquidation_fee_in_ratio": True, "margin_ratio": "equity_over_maintenance"}
    ),
    "close-fee": CONVENTIONS.model_copy(update={"close_fee_in_maintenance": True}),
}
variants = st.sampled_from(sorted(VARIANTS))


def _conventions(pool: PoolInput, variant: str):  # type: ignore[no-untyped-def]
    base = VARIANTS[variant]
    if pool.settlement_asset == "USDT":
        return base
    return GENERIC.model_copy(
        update={k: getattr(base, k) for k in ("liquidation_fee_in_ratio", "close_fee_in_maintenance")}
    )


USDT_UNIT = D("0.00000001")
BP = D("0.0001")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _figures(pool: PoolInput, conventions=CONVENTIONS, factor: D | None = None):  # type: ignore[no-untyped-def]
    with exact_context():
        return pool_figures(pool, conventions, factor)


def _with_mark(pool: PoolInput, index: int, mark: D) -> PoolInput:
    positions = list(pool.positions)
    positions[index] = positions[index].with_mark(mark)
    return pool._replace(positions=tuple(positions))


@PROPERTY
@given(st.one_of(linear_pool(), inverse_pool()), st.data(), variants)
def test_margin_balance_equals_requirement_at_exact_liquidation_price(pool, data, variant):
    """Linear pools in USDT, inverse pools in BTC: one smallest unit (1e-8) either way."""
    conventions = _conventions(pool, variant)
    index = data.draw(st.integers(min_value=0, max_value=len(pool.positions) - 1))
    with exact_context():
        prices = cross_prices(pool_figures(pool, conventions), conventions)
    price = prices[index].liquidation_exact
    assume(price is not None)
    legs = [i for i, p in enumerate(pool.positions) if p.symbol == pool.positions[index].symbol]
    moved = pool
    for leg in legs:  # hedge legs of one symbol share the price
        moved = _with_mark(moved, leg, price)
    at_price = _figures(moved, conventions)
    assert abs(at_price.margin_balance - at_price.requirement) <= USDT_UNIT


@PROPERTY
@given(linear_pool(), st.integers(min_value=1, max_value=10**6))
def test_more_wallet_never_raises_a_long_or_lowers_a_short_liquidation_price(pool, extra):
    richer = pool._replace(wallet_balance=pool.wallet_balance + extra)
    with exact_context():
        before = cross_prices(pool_figures(pool, CONVENTIONS), CONVENTIONS)
        after = cross_prices(pool_figures(richer, CONVENTIONS), CONVENTIONS)
    for position, old, new in zip(pool.positions, before, after, strict=True):
        if old.liquidation_exact is None:
            assert new.liquidation_exact is None or position.side is Side.SHORT
            continue
        if new.liquidation_exact is None:
            assert position.side is Side.LONG  # a long's price fell below zero
            continue
        if position.side is Side.LONG:
            assert new.liquidation_exact <= old.liquidation_exact
        else:
            assert new.liquidation_exact >= old.liquidation_exact


@PROPERTY
@given(linear_position(mode="isolated"), linear_pool())
def test_isolated_figures_do_not_depend_on_other_positions(isolated, others):
    with exact_context():
        alone = isolated_report(isolated, CONVENTIONS)
        # evaluate the same position again after the rest of an account was computed
        pool_figures(others, CONVENTIONS)
        again = isolated_report(isolated, CONVENTIONS)
    assert alone == again
    from crossmargin.margin import parse_account
    from crossmargin.margin.evaluate import evaluate_account

    account = {
        "venue": "binance-usdm",
        "balances": {"USDT": str(others.wallet_balance)},
        "positions": [_as_json(isolated)],
    }
    with_others = dict(
        account, positions=[_as_json(isolated)] + [_as_json(p) for p in others.positions if p.symbol != isolated.symbol]
    )
    solo = evaluate_account(parse_account(account)).isolated[0]
    mixed = evaluate_account(parse_account(with_others)).isolated[0]
    assert (solo.prices, solo.margin_balance, solo.health()) == (mixed.prices, mixed.margin_balance, mixed.health())


def _as_json(position: Position) -> dict[str, str]:
    entry = {
        "symbol": position.symbol,
        "side": position.side.value,
        "size": str(position.size),
        "entry_price": str(position.entry_price),
        "mark_price": str(position.mark_price),
        "margin_mode": position.margin_mode.value,
        "leverage": str(position.leverage),
    }
    if position.isolated_margin is not None:
        entry["isolated_margin"] = str(position.isolated_margin)
    return entry


@PROPERTY
@given(linear_pool(), st.data(), st.sampled_from([D("1.001"), D("1.01"), D("1.1")]))
def test_health_moves_with_each_positions_direction(pool, data, factor):
    """A rise of one mark raises the surplus of a long and lowers that of a short.

    The surplus (margin balance - requirement) is what decides liquidation. Health itself
    falls for a short whenever its mark rises; for a long it rises as long as health is
    below 1/MMR (beyond that the requirement grows proportionally faster than the margin).
    """
    index = data.draw(st.integers(min_value=0, max_value=len(pool.positions) - 1))
    position = pool.positions[index]
    before = _figures(pool)
    after = _figures(_with_mark(pool, index, position.mark_price * factor))
    surplus_before = before.margin_balance - before.requirement
    surplus_after = after.margin_balance - after.requirement
    health_before, health_after = before.health(), after.health()
    assert health_before is not None and health_after is not None
    if position.side is Side.LONG:
        assert surplus_after > surplus_before
        mmr = after.positions[index].rate.mmr
        if health_before * mmr < 1 and health_after * mmr < 1:
            assert health_after >= health_before or before.margin_balance < 0
    else:
        assert surplus_after < surplus_before
        assert health_after < health_before or before.margin_balance < 0


def _exact_requirement(pool: PoolInput) -> Fraction:
    total = Fraction(0)
    for p in pool.positions:
        notional = Fraction(p.size) * Fraction(p.mark_price)
        figures = _figures(pool._replace(positions=(p,))).positions[0]
        total += max(Fraction(0), notional * Fraction(figures.rate.mmr) - Fraction(figures.rate.amount))
    return total


def _exact_withdrawable(pool: PoolInput, requirement: Fraction) -> Fraction:
    """Binance's two bounds (venue-rules §1.6) computed independently in rationals."""
    upnl = sum(
        (p.side.sign * Fraction(p.size) * (Fraction(p.mark_price) - Fraction(p.entry_price)) for p in pool.positions),
        Fraction(0),
    )
    initial = Fraction(0)
    for p in pool.positions:
        leverage = _figures(pool._replace(positions=(p,))).positions[0].effective_leverage
        initial += Fraction(p.size) * Fraction(p.mark_price) / Fraction(leverage)
    wallet = Fraction(pool.wallet_balance)
    return max(Fraction(0), min(wallet - requirement, wallet + upnl - initial))


@PROPERTY
@given(linear_pool())
def test_rounded_requirement_covers_exact_and_withdrawable_never_exceeds_it(pool):
    figures = _figures(pool)
    with exact_context():
        requirement = quantize(figures.requirement, USDT_UNIT, rounding=Rounding.CEILING)
        withdrawable = quantize(figures.max_withdrawable, USDT_UNIT, rounding=Rounding.FLOOR)
    exact_requirement = _exact_requirement(pool)
    assert exact_requirement <= Fraction(requirement) < exact_requirement + Fraction(USDT_UNIT)
    exact_withdrawable = _exact_withdrawable(pool, exact_requirement)
    assert exact_withdrawable - Fraction(USDT_UNIT) <= Fraction(withdrawable) <= exact_withdrawable


def _check_boundary(pool: PoolInput, conventions, move: D | None, downward: bool) -> None:  # type: ignore[no-untyped-def]
    if move is None or move == 0:
        return
    inside = move + BP if downward else move - BP
    outside = move - BP if downward else move + BP
    if downward and outside <= -1:
        return
    if (inside < 0) == downward and inside != 0:
        assert not _figures(pool, conventions, 1 + inside).is_liquidatable(conventions)
    assert _figures(pool, conventions, 1 + outside).is_liquidatable(conventions)


@PROPERTY
@given(st.one_of(linear_pool(), inverse_pool()), variants)
def test_liquidation_move_is_the_boundary(pool, variant):
    conventions = _conventions(pool, variant)
    with exact_context():
        move = liquidation_move(pool, conventions)
    _check_boundary(pool, conventions, move.down, True)
    _check_boundary(pool, conventions, move.up, False)


def _assert_methods_agree(pool: PoolInput, conventions) -> LiquidationMove:  # type: ignore[no-untyped-def]
    """Closed form and scan-and-bisect agree to two move units where both find a move."""
    with exact_context():
        closed = liquidation_move(pool, conventions, method="closed_form")
        searched = liquidation_move(pool, conventions, method="bisection")
    for a, b, sign in ((closed.down, searched.down, -1), (closed.up, searched.up, 1)):
        if a is None:
            assert b is None
            continue
        if b is None:
            # the bisection scans a bounded range (down to -99.9999 %, up to +100,000 %)
            assert abs(a) > D("0.9999") or a > 999
            continue
        if abs(a - b) > 2 * MOVE_UNIT:  # a window narrower than the bisection's grid (tiers jump)
            assert abs(a) < abs(b) and _dips_within_one_unit(pool, conventions, a, sign), (a, b)
    return closed


def _dips_within_one_unit(pool: PoolInput, conventions, move: D, sign: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether the pool is liquidatable somewhere in the move unit beyond ``move`` (scanned at a
    thousandth of the unit): where whole-position tiers jump, the window in which the gap is
    negative can be narrower than any grid the bisection scans, and the closed form finds it."""
    step = MOVE_UNIT / 1000 * sign
    with exact_context():
        return any(
            _figures(pool, conventions, 1 + move + step * k).is_liquidatable(conventions) for k in range(1, 1001)
        )


@PROPERTY
@given(st.one_of(linear_pool(max_positions=3), inverse_pool()), variants)
def test_closed_form_move_agrees_with_bisection(pool, variant):
    conventions = _conventions(pool, variant)
    _assert_methods_agree(pool, conventions)


@PROPERTY
@given(st.data())
def test_hedge_mode_legs_share_one_cross_price(data):
    rulebook = load_rulebook("binance-usdm")
    instrument = rulebook.instrument(data.draw(st.sampled_from(["BTCUSDT", "ETHUSDT"])))
    long_leg = data.draw(linear_position(instrument))
    short_leg = data.draw(linear_position(instrument))
    legs = (
        long_leg._replace(side=Side.LONG, position_side=PositionSide.LONG, margin_mode=MarginMode.CROSS),
        short_leg._replace(
            side=Side.SHORT,
            position_side=PositionSide.SHORT,
            mark_price=long_leg.mark_price,
            margin_mode=MarginMode.CROSS,
        ),
    )
    wallet = (legs[0].size * legs[0].mark_price * D("0.05")).quantize(D("0.01"))
    pool = PoolInput("USDT", wallet, legs)
    with exact_context():
        prices = cross_prices(pool_figures(pool, CONVENTIONS), CONVENTIONS)
    assert prices[0] == prices[1]
    if prices[0].liquidation_exact is not None:
        at = _figures(pool._replace(positions=tuple(p.with_mark(prices[0].liquidation_exact) for p in legs)))
        assert abs(at.margin_balance - at.requirement) <= USDT_UNIT


@st.composite
def whole_position_pool(draw: st.DrawFn) -> PoolInput:
    """Tiers whose rate applies to the whole position (no maintenance amount): a jump at each floor."""
    from tests.conftest import make_instrument

    instrument = make_instrument(
        "WHLUSDT",
        tier_style="whole_position",
        brackets=[
            ("0", "100000", "50", "0.01", "0"),
            ("100000", "500000", "25", "0.02", "0"),
            ("500000", "2000000", "10", "0.05", "0"),
            ("2000000", "100000000", "4", "0.1", "0"),
        ],
    )
    positions = tuple(draw(linear_position(instrument)) for _ in range(draw(st.integers(1, 2))))
    positions = tuple(
        p._replace(position_side=PositionSide(side)) if len(positions) == 2 else p
        for p, side in zip(positions, ("long", "short"), strict=False)
    )
    if len(positions) == 2:
        positions = (
            positions[0]._replace(side=Side.LONG),
            positions[1]._replace(side=Side.SHORT, mark_price=positions[0].mark_price),
        )
    gross = sum((p.size * p.mark_price for p in positions), D(0))
    ratio = draw(st.sampled_from([D("0.05"), D("0.1"), D("0.3")]))
    return PoolInput("USDT", (gross * ratio).quantize(D("0.01")) + 1, positions)


@PROPERTY
@given(whole_position_pool())
def test_edge_walk_on_discontinuous_tiers_agrees_with_bisection(pool):
    """Whole-position tiers make the pool's line jump at each floor; the edge walk handles it."""
    closed = _assert_methods_agree(pool, CONVENTIONS)
    _check_boundary(pool, CONVENTIONS, closed.down, True)
    _check_boundary(pool, CONVENTIONS, closed.up, False)
