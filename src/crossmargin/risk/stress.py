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

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crossmargin.engine import commands as c
from crossmargin.engine.core import Engine
from crossmargin.engine.depth import depth_for
from crossmargin.engine.state import snapshot
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.types import MarginMode, PositionSide
from crossmargin.units import InputError, Rounding, exact_context, to_tick

ACCOUNT = "account"
HOUR_MS = 3_600_000
DEPTH_LEVELS = 40


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
    name: str
    steps: tuple[StressStep, ...]
    description: str = ""


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


def copy_into_engine(snapshot: AccountSnapshot) -> Engine:
    """A fresh engine holding the account as it stands: marks, balances, settings and positions."""
    engine = Engine(snapshot.rulebook)
    ids = (f"setup-{n}" for n in itertools.count())
    for n, position in enumerate(snapshot.positions):
        if position.position_side is not PositionSide.BOTH:
            raise InputError(f"positions[{n}].position_side", "stress replays one-way positions; hedge legs not yet")
        if position.mmr_override is not None:  # the engine applies the rulebook's tiers, nothing else
            raise InputError(f"positions[{n}].mmr", "the engine uses the rulebook's tiers; remove mmr to replay it")
        engine.execute(c.MarketUpdate(next(ids), position.symbol, 0, mark=position.mark_price))
    if snapshot.asset_mode == "multi":
        _refused(engine.execute(c.SetAssetMode(next(ids), ACCOUNT, "multi")), "asset_mode")
        for asset, price in sorted(snapshot.prices.items()):
            if asset != "USD":
                _refused(engine.execute(c.AssetPrice(next(ids), asset, 0, price)), f"prices.{asset}")
    for asset, balance in sorted(snapshot.balances.items()):
        if balance < 0:
            raise InputError(f"balances.{asset}", "a debt cannot be copied into the engine yet")
        if balance > 0:
            _refused(engine.execute(c.Deposit(next(ids), ACCOUNT, asset, balance)), f"balances.{asset}")
        if not snapshot.approved(asset):
            engine.execute(c.ApproveCollateral(next(ids), ACCOUNT, asset, False))
    for n, position in enumerate(snapshot.positions):
        engine.execute(c.SetLeverage(next(ids), ACCOUNT, position.symbol, position.leverage))
        isolated = position.margin_mode is MarginMode.ISOLATED
        if isolated and position.isolated_margin:
            asset = position.settlement_asset
            engine.execute(c.Deposit(next(ids), ACCOUNT, asset, position.isolated_margin))
        command = c.ImportPosition(
            next(ids), ACCOUNT, position.symbol, position.side.value, position.size, position.entry_price,
            position.margin_mode.value, position.isolated_margin if isolated else None,
        )  # fmt: skip
        _refused(engine.execute(command), f"positions[{n}]")
    return engine


def _refused(result: c.Result, field_name: str) -> None:
    if not result.code.accepted:
        raise InputError(field_name, f"the engine refused it: {result.code.value} {result.message}".strip())


def equity(engine: Engine) -> Decimal:
    """The account's equity: every pool's wallet plus unrealised PnL, and isolated margins with theirs."""
    account = engine.accounts.get(ACCOUNT)
    if account is None:
        return Decimal(0)
    evaluation = engine.evaluate(account)
    total = sum((p.figures.wallet_balance + p.figures.unrealized_pnl for p in evaluation.pools), Decimal(0))
    return total + sum((i.isolated_margin + i.figures.unrealized_pnl for i in evaluation.isolated), Decimal(0))


def health(
    engine: Engine, marks: dict[str, Decimal] | None = None, payments: dict[str, Decimal] | None = None
) -> Decimal | None:
    """The lowest health over the account's pools and isolated positions (``None``: nothing
    required), at the engine's marks or at ``marks`` with the wallets changed by ``payments``:
    what a step brings before the venue acts on it."""
    account = engine.accounts.get(ACCOUNT)
    if account is None or not account.positions:
        return None
    view = snapshot(
        engine.rulebook, engine.ledger, account, engine.markets, None, payments, asset_prices=engine.asset_prices
    )
    if marks:
        view = view._replace(positions=tuple(p.with_mark(marks.get(p.symbol, p.mark_price)) for p in view.positions))
    return evaluate_account(view, with_prices=False).lowest_health()


def run_stress(snapshot: AccountSnapshot, scenario: StressScenario) -> StressReport:
    """Replay ``scenario`` on a copy of the account; see the module docstring."""
    with exact_context():
        engine = copy_into_engine(snapshot)
        path = _Path(
            {p.symbol: p.mark_price for p in snapshot.positions},
            {p.symbol: p.instrument.base_asset for p in snapshot.positions},
        )
        report = StressReport(
            scenario.name, equity(engine), Decimal(0), [health(engine)], False, None, None, Decimal(0)
        )
        for number, step in enumerate(scenario.steps, start=1):
            marks = path.marks(engine, step)
            report.health_path.append(health(engine, marks, path.funding(engine, step, marks)))  # before the venue acts
            events = path.apply(engine, step, number)
            report.events += events
            report.bad_debt += _bad_debt(events)
            if report.liquidated_at_step is None and any(e["event"] == "liquidation_started" for e in events):
                report.liquidated, report.liquidated_at_step, report.liquidated_at_hours = True, number, step.hours
                report.liquidated_in_blackout = step.blackout
        report.equity_after = equity(engine)
        return report


@dataclass
class _Path:
    """The scenario's running state: each symbol's starting mark and base asset, and the book's
    depth factor in force (a thinned book stays thin until a step changes it)."""

    start: dict[str, Decimal]
    base_of: dict[str, str]
    depth: Decimal | None = None

    def marks(self, engine: Engine, step: StressStep) -> dict[str, Decimal]:
        """The mark of every symbol once the step has moved it (a frozen one keeps its own)."""
        out = {}
        for symbol, mark0 in self.start.items():
            base = self.base_of[symbol]
            current = engine.market(symbol).mark
            assert current is not None
            moved = base in step.moves and base not in step.frozen
            move = step.moves.get(base, Decimal(0))
            bound = step.clamp.get(base)
            if bound is not None:  # the feed reports its bound, not the market beyond it
                move = max(move, bound) if bound < 0 else min(move, bound)
            out[symbol] = _to_tick(engine, symbol, mark0 * (1 + move)) if moved else current
        return out

    def funding(self, engine: Engine, step: StressStep, marks: dict[str, Decimal]) -> dict[str, Decimal]:
        """What the step's funding pays into (or takes from) the account's cross wallets, per asset."""
        account = engine.accounts.get(ACCOUNT)
        paid: dict[str, Decimal] = {}
        for symbol, position in (account.positions if account else {}).items():
            base = self.base_of.get(symbol)
            if base not in step.funding or position.margin_mode is not MarginMode.CROSS:
                continue
            instrument = engine.rulebook.instrument(symbol)
            asset = instrument.settlement_asset
            amount = funding_payment(
                instrument, position.side, position.size, marks[symbol], step.funding[base], unit=engine.unit(asset)
            )
            paid[asset] = paid.get(asset, Decimal(0)) + amount
        return paid

    def apply(self, engine: Engine, step: StressStep, number: int) -> list[dict[str, Any]]:
        time_ms = int(step.hours * HOUR_MS)
        events: list[dict[str, Any]] = []
        listed = engine.rulebook.data.assets  # other assets' prices belong to the market, not the account
        for asset, price in sorted(step.prices.items()):
            if asset not in listed or asset == "USD":
                continue
            events += engine.execute(c.AssetPrice(f"s{number}-price-{asset}", asset, time_ms, price)).events
        if step.depth is not None:
            self.depth = step.depth
        marks = self.marks(engine, step)
        for symbol in sorted(self.start):
            base = self.base_of[symbol]
            moves = base in step.moves and base not in step.frozen
            mark = marks[symbol]
            if self.depth is not None:  # the book around the mark the step brings, before it comes
                events += _thin_book(engine, symbol, base, mark, self.depth, number, time_ms)
            if moves:
                update = c.MarketUpdate(f"s{number}-mark-{symbol}", symbol, time_ms, mark=mark)
                events += engine.execute(update).events
            if base in step.funding:
                engine.execute(
                    c.MarketUpdate(f"s{number}-rate-{symbol}", symbol, time_ms, funding_rate=step.funding[base])
                )
                events += engine.execute(c.SettleFunding(f"s{number}-funding-{symbol}", symbol, time_ms)).events
        return events


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
