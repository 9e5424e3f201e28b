"""Properties of the risk lab on random accounts: stress through the engine agrees with the margin
functions' liquidation move, on every shipped rulebook, hedged books included."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from crossmargin.margin import Position, PositionSide, Side
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.scenarios import uniform
from crossmargin.risk.stress import run_stress
from tests.venue_strategies import VENUES, tiered_groups, venue_position

#: How far inside (or past) the liquidation move the stress goes: 2 % of the move, at least 0.05 %.
#: Stressed marks are rounded to the tick (at most 0.003 % of the prices drawn here), so the
#: margin keeps every rounded mark on its side of the boundary.
RELATIVE_MARGIN = D("0.02")
ABSOLUTE_MARGIN = D("0.0005")


@st.composite
def hedged_account(draw: st.DrawFn) -> AccountSnapshot:
    """A single cross pool of one to three positions on one venue's real tiers; with two or more,
    at least one long and one short (a hedged book: a long and a short on different symbols), and
    on a venue with hedge mode, sometimes both legs of one symbol."""
    from crossmargin.rules import load_rulebook

    rulebook = load_rulebook(draw(st.sampled_from(VENUES)))
    groups = tiered_groups(rulebook)
    asset = draw(st.sampled_from(sorted(groups)))
    kind = draw(st.sampled_from(sorted({i.kind for i in groups[asset]})))
    candidates = [i for i in groups[asset] if i.kind == kind]
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique_by=lambda i: i.symbol))
    sides = [draw(st.sampled_from([Side.LONG, Side.SHORT])) for _ in chosen]
    if len(chosen) > 1 and len(set(sides)) == 1:
        sides[-1] = Side.SHORT if sides[0] is Side.LONG else Side.LONG
    positions = tuple(_on_lot(draw(venue_position(i, side))) for i, side in zip(chosen, sides, strict=True))
    if rulebook.conventions.hedge_mode_offered and draw(st.booleans()):  # both legs of the first symbol
        first = positions[0]
        other = Side.SHORT if first.side is Side.LONG else Side.LONG
        opposite = _on_lot(draw(venue_position(first.instrument, other)))._replace(mark_price=first.mark_price)
        legs = [p._replace(position_side=PositionSide(p.side.value)) for p in (first, opposite)]
        positions = (*legs, *positions[1:])
    if kind == "linear":
        gross = sum((p.size * p.mark_price * p.instrument.contract_size for p in positions), D(0))
    else:
        gross = sum((p.size * p.instrument.contract_size / p.mark_price for p in positions), D(0))
    ratio = draw(st.sampled_from([D("0.03"), D("0.1"), D("0.3"), D("1")]))
    wallet = (gross * ratio).quantize(rulebook.asset_unit(asset)) + rulebook.asset_unit(asset)
    return _Shown(rulebook, {asset: wallet}, None, {}, positions)


class _Shown(AccountSnapshot):
    """An account that Hypothesis prints as one line (the rulebook's repr runs to pages)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _describe(self)


def _on_lot(position: Position) -> Position:
    """The position with its size a whole number of lots, as a venue (and the engine) holds it."""
    lot = position.instrument.lot_size
    return position._replace(size=max(lot, (position.size // lot) * lot))


def _describe(snapshot: AccountSnapshot) -> str:
    legs = "; ".join(
        f"{p.symbol}{'' if p.position_side is PositionSide.BOTH else ' leg'} {p.side.value} {p.size}"
        f" @{p.entry_price} mark {p.mark_price} x{p.leverage}"
        for p in snapshot.positions
    )
    return f"{snapshot.rulebook.venue} {snapshot.balances}: {legs}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=hedged_account(), steps=st.sampled_from([1, 3]), direction=st.sampled_from(["down", "up"]))
def test_a_uniform_stress_inside_the_liquidation_move_never_liquidates_and_one_past_it_always_does(
    snapshot: AccountSnapshot, steps: int, direction: str
):
    """The move `evaluate` reports is where the engine liquidates: every mark moved together by a
    little less (in one step or several) leaves the copy alone, a little more liquidates it.
    Inside a pool of linear (or of inverse) contracts margin balance less requirement is concave
    in the move, so past the first crossing the pool stays liquidatable."""
    sides = {p.side for p in snapshot.positions}
    shape = "hedge legs" if any(p.position_side is not PositionSide.BOTH for p in snapshot.positions) else "one-way"
    event(f"{snapshot.rulebook.venue}, {'hedged' if len(sides) > 1 else 'one side'}, {shape}, {direction}")
    evaluation = evaluate_account(snapshot)
    assume(not evaluation.liquidatable)
    (pool,) = evaluation.pools
    move = pool.move.down if direction == "down" else pool.move.up
    assume(move is not None)
    assert move is not None
    margin = max(abs(move) * RELATIVE_MARGIN, ABSOLUTE_MARGIN)
    inside, past = move - margin if move > 0 else move + margin, move + margin if move > 0 else move - margin
    assume((inside > 0) == (move > 0) and D("-0.95") < past < D(9))
    assets = sorted({p.instrument.base_asset for p in snapshot.positions})
    short_of_it = run_stress(snapshot, uniform(assets, inside, steps))
    note(f"liquidation move {move}: inside {inside} health path {short_of_it.health_path}")
    assert not short_of_it.liquidated
    assert short_of_it.min_health is not None and short_of_it.min_health > 1
    past_it = run_stress(snapshot, uniform(assets, past, steps))
    note(f"past {past}: health path {past_it.health_path}")
    assert past_it.liquidated and past_it.liquidated_at_step is not None and past_it.liquidated_at_step >= 1
    assert past_it.health_path[past_it.liquidated_at_step] is not None
    assert past_it.health_path[past_it.liquidated_at_step] <= 1  # type: ignore[operator]
