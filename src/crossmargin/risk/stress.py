"""Stress: replay a market path through the engine on a copy of the account.

A stress scenario is a list of steps in time. Each step moves assets' marks (relative to where
they started), and may also settle funding at a rate, reprice collateral (a stablecoin depeg),
thin the order book by a factor, or freeze an asset's mark (a stale oracle). The account is
copied into a fresh engine (its balances deposited, its positions imported as they stand), and
every step goes through the engine's own commands. So liquidation happens as the venue runs it:
its trigger, its style (full, reduce-until-compliant, tier step-down, chunks), fills through
the thinned book, the fee, the insurance fund. The report gives the path of health, whether and
when the account was liquidated (and whether the user was locked out then), the equity before
and after, and the bad debt the fund (or the venue) took. Moves and prices of assets the account
does not hold, or the venue does not list, describe the market and leave the account alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.engine import commands as c
from crossmargin.engine.core import Engine
from crossmargin.engine.depth import depth_for
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import build_pools, evaluate_account
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.types import MarginMode
from crossmargin.risk.engine_copy import ACCOUNT, account_equity, copy_into_engine, equity, health
from crossmargin.units import InputError, Rounding, exact_context, to_tick

HOUR_MS = 3_600_000
DEPTH_LEVELS = 40
#: The most steps one scenario may take: a path of that many steps runs for minutes.
MAX_STEPS = 10_000


@dataclass(frozen=True)
class StressStep:
    """One point of a path, ``hours`` after the start. ``moves``: asset -> relative move of its marks
    from the start (-0.2 is 20 % down); ``funding``: asset -> rate settled now on its perpetuals;
    ``prices``: collateral asset -> USD price; ``depth``: the order book's size as a fraction of
    normal; ``frozen``: assets whose marks do not update at this step; ``clamp``: asset -> the move
    its price feed cannot report past (a feed's floor such as Chainlink's minAnswer, or its cap):
    the mark stops there while the market goes on."""

    hours: Decimal
    moves: dict[str, Decimal] = field(default_factory=dict)
    funding: dict[str, Decimal] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    depth: Decimal | None = None
    frozen: frozenset[str] = frozenset()
    clamp: dict[str, Decimal] = field(default_factory=dict)  # asset -> the move its oracle cannot pass
    blackout: bool = False  # the user's commands would be refused now (a passive copy places none)


@dataclass(frozen=True)
class StressScenario:
    """A named path. ``proxies``: held assets the path's own data did not move, moved at every step
    by their beta to BTC times BTC's move (asset -> beta), so a report can say so."""

    name: str
    steps: tuple[StressStep, ...]
    description: str = ""
    proxies: dict[str, Decimal] = field(default_factory=dict)

    def moves_asset(self, asset: str) -> bool:
        """Whether some step moves ``asset`` (its marks, or its price as collateral)."""
        return any(asset in step.moves or asset in step.prices for step in self.steps)


@dataclass
class StressReport:
    """What a scenario did to the account (amounts in the settlement asset, or USD for a multi pool)."""

    scenario: str
    equity_before: Decimal
    equity_after: Decimal
    health_path: list[Decimal | None]
    liquidated: bool
    liquidated_at_step: int | None
    liquidated_at_hours: Decimal | None
    bad_debt: Decimal
    events: list[dict[str, Any]] = field(default_factory=list)
    liquidated_in_blackout: bool = False  # liquidated while the user could not act
    unmoved: tuple[str, ...] = ()  # held assets no step moved: they stayed at their price
    proxies: dict[str, Decimal] = field(default_factory=dict)  # held assets moved by beta x BTC's move

    @property
    def loss(self) -> Decimal:
        return self.equity_before - self.equity_after

    @property
    def min_health(self) -> Decimal | None:
        values = [h for h in self.health_path if h is not None]
        return min(values) if values else None

    def __repr__(self) -> str:
        """One line: the health path and the engine's events are in the fields."""
        when = "not liquidated" if not self.liquidated else f"liquidated at step {self.liquidated_at_step}"
        return (
            f"StressReport({self.scenario!r}: equity {self.equity_before} -> {self.equity_after}, {when}, "
            f"bad debt {self.bad_debt}, {len(self.health_path)} health points, {len(self.events)} events)"
        )


def held_assets(snapshot: AccountSnapshot) -> tuple[str, ...]:
    """The assets whose prices move the account's figures: each position's base asset and, in a
    multi-asset pool, each collateral asset that is not a stablecoin (BTC in a unified account)."""
    held = {p.instrument.base_asset for p in snapshot.positions}
    for pool in build_pools(snapshot):
        if pool.valuation is not None:
            held |= pool.valuation.moving
    return tuple(sorted(held))


def run_stress(
    snapshot: AccountSnapshot, scenario: StressScenario, on_step: Callable[[], None] | None = None
) -> StressReport:
    """Replay ``scenario`` on a copy of the account; see the module docstring. An account already
    liquidatable is liquidated by the copy itself, at step 0. ``on_step`` hears each step done."""
    if len(scenario.steps) > MAX_STEPS:
        raise InputError(
            "steps", f"a scenario takes at most {MAX_STEPS:,} steps, {scenario.name} has {len(scenario.steps):,}"
        )
    _check_funding_times(snapshot, scenario)
    with exact_context():
        start = evaluate_account(snapshot, with_prices=False)
        setup: list[dict[str, Any]] = []
        engine = copy_into_engine(snapshot, setup)
        report = StressReport(
            scenario.name, account_equity(start), Decimal(0), [start.lowest_health()], False, None, None, Decimal(0)
        )
        report.unmoved = _unmoved(snapshot, scenario)
        report.proxies = {a: b for a, b in scenario.proxies.items() if a in held_assets(snapshot)}
        report.events += setup
        report.bad_debt += _bad_debt(setup)
        if any(e["event"] == "liquidation_started" for e in setup):
            report.liquidated, report.liquidated_at_step, report.liquidated_at_hours = True, 0, Decimal(0)
        path = _Path(
            {p.symbol: p.mark_price for p in snapshot.positions},
            {p.symbol: p.instrument.base_asset for p in snapshot.positions},
            _collateral_prices(snapshot),
        )
        for number, step in enumerate(scenario.steps, start=1):
            marks = path.marks(engine, step)
            prices = path.prices(engine, step)
            paid = path.funding(engine, step, marks)
            report.health_path.append(health(engine, marks, _per_asset(paid), prices))  # before the venue acts
            events = path.apply(engine, step, number, marks, prices, _per_symbol(paid))
            report.events += events
            report.bad_debt += _bad_debt(events)
            if report.liquidated_at_step is None and any(e["event"] == "liquidation_started" for e in events):
                report.liquidated, report.liquidated_at_step, report.liquidated_at_hours = True, number, step.hours
                report.liquidated_in_blackout = step.blackout
            if on_step is not None:
                on_step()
        report.equity_after = equity(engine)
        return report


def _unmoved(snapshot: AccountSnapshot, scenario: StressScenario) -> tuple[str, ...]:
    """The held assets the scenario leaves at their price: a position's base asset that no step
    moves (a ``prices`` entry reprices collateral, not marks), a collateral asset that no step
    moves or prices."""
    bases = {p.instrument.base_asset for p in snapshot.positions}
    moved_marks = {a for step in scenario.steps for a in step.moves}
    return tuple(
        a for a in held_assets(snapshot) if (a not in moved_marks if a in bases else not scenario.moves_asset(a))
    )


def _collateral_prices(snapshot: AccountSnapshot) -> dict[str, Decimal]:
    """A multi-asset pool's starting USD price of each asset a move may reprice (USD is the unit)."""
    if snapshot.asset_mode != "multi":
        return {}
    return {a: p for a, p in snapshot.prices.items() if a != "USD"}


def _check_funding_times(snapshot: AccountSnapshot, scenario: StressScenario) -> None:
    """A venue exchanges funding only at its funding times (the multiples of each perpetual's
    interval since the start), so a step that settles funding on a held perpetual must fall on one."""
    for n, step in enumerate(scenario.steps):
        for position in snapshot.positions:
            funding = position.instrument.funding
            base = position.instrument.base_asset
            if funding is None or base not in step.funding or step.hours % funding.interval_hours == 0:
                continue
            raise InputError(
                f"steps[{n}].funding.{base}",
                f"hours {step.hours} is not a funding time of {position.symbol} (every {funding.interval_hours} h)",
            )


class _Payment(NamedTuple):
    symbol: str
    asset: str
    cross: bool
    amount: Decimal  # received (negative: paid)


def _per_symbol(paid: list[_Payment]) -> dict[str, Decimal]:
    """What the step's funding pays the account per symbol (both legs of a hedge together)."""
    out: dict[str, Decimal] = {}
    for payment in paid:
        out[payment.symbol] = out.get(payment.symbol, Decimal(0)) + payment.amount
    return out


def _per_asset(paid: list[_Payment]) -> dict[str, Decimal]:
    """What funding pays into the account's cross wallets, per settlement asset (an isolated
    position's funding moves its own margin)."""
    out: dict[str, Decimal] = {}
    for payment in paid:
        if payment.cross:
            out[payment.asset] = out.get(payment.asset, Decimal(0)) + payment.amount
    return out


def _effective_move(step: StressStep, asset: str) -> Decimal:
    """The move a step's price feed reports for ``asset``: its move, held at the feed's bound."""
    move = step.moves.get(asset, Decimal(0))
    bound = step.clamp.get(asset)
    if bound is not None:  # the feed reports its bound, not the market beyond it
        move = max(move, bound) if bound < 0 else min(move, bound)
    return move


@dataclass
class _Path:
    """The scenario's running state: each symbol's starting mark and base asset, each collateral
    asset's starting price (a multi-asset pool), and the book's depth factor in force (a thinned
    book stays thin until a step changes it)."""

    start: dict[str, Decimal]
    base_of: dict[str, str]
    start_prices: dict[str, Decimal] = field(default_factory=dict)
    depth: Decimal | None = None

    def moved(self, step: StressStep) -> list[str]:
        """The symbols whose marks the step updates (in a fixed order)."""
        return [s for s in sorted(self.start) if self.base_of[s] in step.moves and self.base_of[s] not in step.frozen]

    def marks(self, engine: Engine, step: StressStep) -> dict[str, Decimal]:
        """The mark of every symbol once the step has moved it (a frozen one keeps its own)."""
        out = {}
        moved = self.moved(step)
        for symbol, mark0 in self.start.items():
            current = engine.market(symbol).mark
            assert current is not None
            move = _effective_move(step, self.base_of[symbol])
            out[symbol] = _to_tick(engine, symbol, mark0 * (1 + move)) if symbol in moved else current
        return out

    def prices(self, engine: Engine, step: StressStep) -> dict[str, Decimal]:
        """The collateral prices the step sets: those it gives, and the starting price of each
        collateral asset it moves (a frozen one keeps its price). Assets the venue does not price
        describe the market and are left out."""
        listed = engine.rulebook.data.assets
        out = {a: p for a, p in step.prices.items() if a in listed and a != "USD"}
        for asset, price0 in self.start_prices.items():
            if asset in step.moves and asset not in out and asset not in step.frozen and asset in listed:
                out[asset] = price0 * (1 + _effective_move(step, asset))
        return out

    def funding(self, engine: Engine, step: StressStep, marks: dict[str, Decimal]) -> list[_Payment]:
        """What the step's funding pays into (negative: takes from) each of the account's positions."""
        account = engine.accounts.get(ACCOUNT)
        paid = []
        for position in account.positions.values() if account else ():
            base = self.base_of.get(position.symbol)
            if base not in step.funding:
                continue
            instrument = engine.rulebook.instrument(position.symbol)
            asset = instrument.settlement_asset
            amount = funding_payment(
                instrument, position.side, position.size, marks[position.symbol], step.funding[base],
                unit=engine.unit(asset),
            )  # fmt: skip
            paid.append(_Payment(position.symbol, asset, position.margin_mode is MarginMode.CROSS, amount))
        return paid

    def apply(
        self,
        engine: Engine,
        step: StressStep,
        number: int,
        marks: dict[str, Decimal],
        prices: dict[str, Decimal],
        paid: dict[str, Decimal],
    ) -> list[dict[str, Any]]:
        """The step through the engine: the book, the collateral prices and every moved mark at
        one instant (``marks_update``, as a venue publishes them), then funding, the account's
        receipts before its payments, so that no moment between two settlements is worse than the
        step as a whole."""
        time_ms = int(step.hours * HOUR_MS)
        events: list[dict[str, Any]] = []
        if step.depth is not None:
            self.depth = step.depth
        if self.depth is not None:  # the book around the marks the step brings, before they come
            for symbol in sorted(self.start):
                events += _thin_book(engine, symbol, self.base_of[symbol], marks[symbol], self.depth, number, time_ms)
        moved = self.moved(step)
        for part in _price_then_marks_order(engine, marks, prices, bool(moved)):
            if part == "marks":
                update = c.MarksUpdate(f"s{number}-marks", time_ms, tuple((s, marks[s]) for s in moved))
                events += engine.execute(update).events
                continue
            for asset, price in sorted(prices.items()):
                events += engine.execute(c.AssetPrice(f"s{number}-price-{asset}", asset, time_ms, price)).events
        funded = [s for s in sorted(self.start) if self.base_of[s] in step.funding]
        for symbol in sorted(funded, key=lambda s: -paid.get(s, Decimal(0))):
            rate = step.funding[self.base_of[symbol]]
            engine.execute(c.MarketUpdate(f"s{number}-rate-{symbol}", symbol, time_ms, funding_rate=rate))
            events += engine.execute(c.SettleFunding(f"s{number}-funding-{symbol}", symbol, time_ms)).events
        return events


def _price_then_marks_order(
    engine: Engine, marks: dict[str, Decimal], prices: dict[str, Decimal], any_marks: bool
) -> list[str]:
    """The order in which a step's collateral prices and marks reach the engine, which checks the
    account after each command. A venue sees them at one instant, so the change that leaves the
    account healthier on its own goes first: BTC collateral backing a BTC short falls with the
    short's gain already counted, and rises before the short's loss. The moment between the two
    is then never worse than the step as a whole (each change adds to the margin it moves)."""
    if not prices:
        return ["marks"] if any_marks else []
    if not any_marks:
        return ["prices"]
    marks_first = health(engine, marks)
    prices_first = health(engine, None, None, prices)
    if marks_first is None or (prices_first is not None and prices_first > marks_first):
        return ["prices", "marks"]
    return ["marks", "prices"]


def _to_tick(engine: Engine, symbol: str, price: Decimal) -> Decimal:
    """A stressed price on the symbol's tick (nearest; never below one tick)."""
    tick = engine.rulebook.instrument(symbol).tick_size
    return max(tick, to_tick(price, tick, rounding=Rounding.HALF_EVEN))


def _thin_book(
    engine: Engine, symbol: str, base: str, mark: Decimal, factor: Decimal, number: int, time_ms: int
) -> list[Any]:
    """The calibrated book around ``mark`` with every level's size times ``factor``."""
    curve = depth_for(base)

    def levels(side: str) -> tuple[tuple[Decimal, Decimal], ...]:
        out: dict[Decimal, Decimal] = {}
        for price, quantity in curve.price_quantities(mark, side, DEPTH_LEVELS):
            rounded = _to_tick(engine, symbol, price)
            if quantity * factor > 0 and (rounded < mark if side == "bid" else rounded > mark):
                out[rounded] = out.get(rounded, Decimal(0)) + quantity * factor
        return tuple(sorted(out.items(), reverse=side == "bid"))

    update = c.DepthUpdate(f"s{number}-depth-{symbol}", symbol, time_ms, levels("bid"), levels("ask"))
    return list(engine.execute(update).events)


def _bad_debt(events: list[dict[str, Any]]) -> Decimal:
    """What the insurance fund paid for a deficit, and what the venue had to book beyond it."""
    total = Decimal(0)
    for event in events:
        if event["event"] == "insurance_fund" and event.get("reason") == "deficit covered":
            total -= Decimal(str(event["amount"]))
        elif event["event"] in ("venue_backstop", "funding_shortfall"):
            total += Decimal(str(event["amount"]))
    return total
