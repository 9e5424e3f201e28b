"""Per venue: each closed-form liquidation price equals the root of margin balance = requirement
found by bisection on the generic pool figures (other marks frozen), within one tick.

The properties of the foundation also run here over every shipped rulebook: the exact
liquidation price balances the pool, and the liquidation move is the boundary.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from crossmargin.margin import liquidation_move, pool_figures
from crossmargin.margin.evaluate import cross_prices
from crossmargin.margin.numeric import solve_by_bisection
from crossmargin.units import exact_context
from tests.venue_strategies import VENUES, describe, venue_pool

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BP = D("0.0001")


@pytest.mark.parametrize("venue", VENUES)
@SETTINGS
@given(data=st.data())
def test_closed_form_liquidation_price_equals_bisection_root(venue, data):
    rulebook, pool = data.draw(venue_pool(venue))
    note(describe(pool))
    conventions = rulebook.conventions
    index = data.draw(st.integers(min_value=0, max_value=len(pool.positions) - 1))
    with exact_context():
        closed = cross_prices(pool_figures(pool, conventions), conventions)[index].liquidation_exact
        searched = solve_by_bisection(pool, [index], conventions)
    tick = pool.positions[index].instrument.tick_size
    if closed is None or searched is None:
        assert closed is None and searched is None
        return
    assert abs(closed - searched) <= tick


@pytest.mark.parametrize("venue", VENUES)
@SETTINGS
@given(data=st.data())
def test_exact_liquidation_price_balances_the_pool(venue, data):
    rulebook, pool = data.draw(venue_pool(venue))
    note(describe(pool))
    conventions = rulebook.conventions
    index = data.draw(st.integers(min_value=0, max_value=len(pool.positions) - 1))
    with exact_context():
        price = cross_prices(pool_figures(pool, conventions), conventions)[index].liquidation_exact
    assume(price is not None)
    positions = list(pool.positions)
    positions[index] = positions[index].with_mark(price)
    with exact_context():
        figures = pool_figures(pool._replace(positions=tuple(positions)), conventions)
    assert abs(figures.margin_balance - figures.requirement) <= rulebook.asset_unit(pool.settlement_asset)


@pytest.mark.parametrize("venue", VENUES)
@SETTINGS
@given(data=st.data())
def test_liquidation_move_is_the_boundary_on_every_venue(venue, data):
    rulebook, pool = data.draw(venue_pool(venue))
    note(describe(pool))
    conventions = rulebook.conventions
    with exact_context():
        move = liquidation_move(pool, conventions)
        for value, downward in ((move.down, True), (move.up, False)):
            if value is None or value == 0 or (downward and value - BP <= -1):
                continue
            inside = value + BP if downward else value - BP
            outside = value - BP if downward else value + BP
            if inside != 0 and (inside < 0) == downward:
                assert not pool_figures(pool, conventions, 1 + inside).is_liquidatable(conventions)
            assert pool_figures(pool, conventions, 1 + outside).is_liquidatable(conventions)


@pytest.mark.parametrize("venue", VENUES)
@SETTINGS
@given(data=st.data(), extra=st.integers(min_value=1, max_value=10**6))
def test_more_wallet_never_worsens_a_liquidation_price(venue, data, extra):
    rulebook, pool = data.draw(venue_pool(venue))
    note(describe(pool))
    conventions = rulebook.conventions
    richer = pool._replace(wallet_balance=pool.wallet_balance + extra)
    with exact_context():
        before = cross_prices(pool_figures(pool, conventions), conventions)
        after = cross_prices(pool_figures(richer, conventions), conventions)
    for position, old, new in zip(pool.positions, before, after, strict=True):
        if old.liquidation_exact is None or new.liquidation_exact is None:
            continue
        if position.side.sign > 0:  # a long: more margin, lower price
            assert new.liquidation_exact <= old.liquidation_exact
        else:
            assert new.liquidation_exact >= old.liquidation_exact


@pytest.mark.parametrize("venue", VENUES)
@SETTINGS
@given(data=st.data())
def test_surplus_moves_with_each_positions_direction(venue, data):
    rulebook, pool = data.draw(venue_pool(venue))
    note(describe(pool))
    conventions = rulebook.conventions
    index = data.draw(st.integers(min_value=0, max_value=len(pool.positions) - 1))
    position = pool.positions[index]
    positions = list(pool.positions)
    positions[index] = position.with_mark(position.mark_price * D("1.01"))
    with exact_context():
        before = pool_figures(pool, conventions)
        after = pool_figures(pool._replace(positions=tuple(positions)), conventions)
    change = (after.margin_balance - after.requirement) - (before.margin_balance - before.requirement)
    # a long gains as its mark rises, a short loses, on linear and inverse contracts alike
    assert (change > 0) == (position.side.sign > 0)
