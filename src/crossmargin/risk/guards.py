"""Guards: stops that fire before the pool is in danger, reserves that survive, sizes and leverage.

Each guard answers a user's practical question, always through the margin functions (stops,
sizes) or the engine (reserves):

- stops: where to put each position's stop so that, under a joint move of every mark (uniform,
  or scaled by each asset's beta to BTC), the stops fire before the pool's health falls to a
  chosen level;
- reserve: how much of the settlement asset to add so the account survives a scenario (through
  the engine), or keeps its Monte Carlo liquidation probability below a target;
- sizes: the largest size per position that survives every asset's worst historical window at
  once (one price path per asset, in the direction that hurts the book);
- leverage: a multiplier per asset from its own tail moves (meme coins get less than BTC);
- trailing buffer: how much unrealised profit to count as collateral once milestones are crossed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from crossmargin.engine.state import position_key
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.types import MarginMode, PositionSide, Side
from crossmargin.risk.history import load_history
from crossmargin.risk.models import ReturnModel
from crossmargin.risk.montecarlo import Pool, simulate
from crossmargin.risk.stress import StressScenario, held_assets, run_stress
from crossmargin.units import InputError, Rounding, exact_context, quantize, to_tick

SCAN_STEP = Decimal("0.0025")
BISECTIONS = 40
#: How far a stop's joint move is searched each way (-1: down to -99 %, +1: up to +500 %).
MOVE_LIMITS = {-1: Decimal("-0.99"), 1: Decimal(5)}


def health_after(snapshot: AccountSnapshot, betas: dict[str, Decimal], move: Decimal) -> Decimal | None:
    """The lowest pool or isolated health once every held asset moves by its beta times ``move``:
    the marks of its positions and, in a multi-asset pool, its collateral price."""
    moves = {asset: max(Decimal("-0.9999"), betas.get(asset, Decimal(1)) * move) for asset in held_assets(snapshot)}
    return evaluate_account(_moved(snapshot, moves), with_prices=False).lowest_health()


def safe_move(snapshot: AccountSnapshot, betas: dict[str, Decimal], level: Decimal, sign: int) -> Decimal | None:
    """The largest joint move in direction ``sign`` (-1 down, +1 up) before health first falls to
    ``level``: every smaller move keeps it above. ``None``: no move within -99 % / +500 % does."""
    limit = MOVE_LIMITS[sign]
    safe, move = Decimal(0), SCAN_STEP * sign
    with exact_context():
        start = health_after(snapshot, betas, Decimal(0))
        if start is not None and start <= level:
            return Decimal(0)
        while abs(move) <= abs(limit):
            value = health_after(snapshot, betas, move)
            if value is not None and value <= level:
                break
            safe, move = move, move + SCAN_STEP * sign
        else:
            return None
        breach = move
        for _ in range(BISECTIONS):  # between the last safe move and the first breach
            middle = (safe + breach) / 2
            value = health_after(snapshot, betas, middle)
            if value is not None and value <= level:
                breach = middle
            else:
                safe = middle
    return safe


@dataclass(frozen=True)
class Stop:
    symbol: str
    side: Side
    trigger_price: Decimal  # a long sells at or below it, a short buys at or above it
    move: Decimal  # the joint move (in BTC terms for beta-scaled) at which it sits
    position_side: PositionSide = PositionSide.BOTH  # a hedge-mode leg names its leg


def stop_levels(snapshot: AccountSnapshot, level: Decimal, betas: dict[str, Decimal] | None = None) -> list[Stop]:
    """A stop per position: a long's where the joint down-move keeps health above ``level``, a
    short's where the joint up-move does. Prices go to the tick on the side that fires earlier."""
    if level <= 1:
        raise InputError("level", f"must be above 1 (1 is where the venue liquidates), got {level}")
    weights = betas or {}
    stops = []
    moves = {-1: safe_move(snapshot, weights, level, -1), 1: safe_move(snapshot, weights, level, 1)}
    for position in snapshot.positions:
        sign = -1 if position.side is Side.LONG else 1
        move = moves[sign]
        if move is None:
            continue  # no joint move in that direction brings the pool to the level
        beta = weights.get(position.instrument.base_asset, Decimal(1))
        raw = position.mark_price * max(Decimal("0.0001"), 1 + beta * move)
        rounding = Rounding.CEILING if sign < 0 else Rounding.FLOOR  # toward the mark: fires earlier
        price = to_tick(raw, position.instrument.tick_size, rounding=rounding)
        stops.append(Stop(position.symbol, position.side, price, move, position.position_side))
    return stops


def reserve_for(snapshot: AccountSnapshot, scenario: StressScenario, asset: str, ceiling: Decimal) -> Decimal | None:
    """The least amount of ``asset`` (to its unit) to deposit so that ``scenario`` does not liquidate
    the account, through the engine; ``None`` if even ``ceiling`` is not enough."""
    unit = snapshot.rulebook.asset_unit(asset)
    ceiling = quantize(ceiling, unit, rounding=Rounding.CEILING)  # a deposit is a whole number of units

    def survives(extra: Decimal) -> bool:
        balances = dict(snapshot.balances)
        balances[asset] = balances.get(asset, Decimal(0)) + extra
        return not run_stress(snapshot._replace(balances=balances), scenario).liquidated

    if survives(Decimal(0)):
        return Decimal(0)
    if not survives(ceiling):
        return None
    low, high = Decimal(0), ceiling  # low fails, high survives
    while high - low > unit:
        middle = quantize((low + high) / 2, unit, rounding=Rounding.FLOOR)
        if middle <= low:
            break
        if survives(middle):
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class Reserve:
    """The least deposit that survives a uniform move of the given size whichever way the market
    goes (``None``: more than the ceiling), with the binding scenario and the amount each way."""

    amount: Decimal | None
    scenario: str
    by_direction: dict[str, Decimal | None]
    cross_only: bool  # isolated positions were left out: a deposit does not reach their margin


def adverse_reserve(
    snapshot: AccountSnapshot, size: Decimal, asset: str, ceiling: Decimal, steps: int = 10
) -> Reserve | None:
    """The reserve that survives a uniform fall of ``|size|`` and a uniform rise of ``|size|``
    through the engine: a net long is killed by a fall, a net short by a rise, and a hedged book
    may be killed by either. A deposit backs the cross pool only, so isolated positions are left
    out; ``None`` where the account holds no cross position."""
    from crossmargin.risk.scenarios import uniform

    cross = tuple(p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS)
    if not cross:
        return None
    pool = snapshot._replace(positions=cross)
    assets = list(held_assets(pool))  # collateral that is not a stablecoin moves too
    amounts: dict[str, Decimal | None] = {}
    names: dict[str, str] = {}
    for direction, move in (("down", -abs(size)), ("up", abs(size))):
        scenario = uniform(assets, move, steps)
        names[direction] = scenario.name
        amounts[direction] = reserve_for(pool, scenario, asset, ceiling)
    down, up = amounts["down"], amounts["up"]
    binding = "up" if down is not None and (up is None or up > down) else "down"  # None: beyond the ceiling
    return Reserve(amounts[binding], names[binding], amounts, len(cross) < len(snapshot.positions))


def worst_windows(assets: list[str], window_hours: int) -> dict[str, tuple[Decimal, Decimal]]:
    """Each asset's worst fall and worst rise over any ``window_hours`` of the shipped history."""
    history = load_history()
    out = {}
    for asset in assets:
        returns = history.joint([asset], field="positions")[:, 0]
        if len(returns) <= window_hours:
            raise InputError("window", f"is longer than the shipped history of {asset} ({len(returns):,} hours)")
        cumulative = np.concatenate([[0.0], np.cumsum(returns)])
        windows = cumulative[window_hours:] - cumulative[:-window_hours]
        fall, rise = np.expm1(np.min(windows)), np.expm1(np.max(windows))
        out[asset] = (Decimal(repr(round(float(fall), 6))), Decimal(repr(round(float(rise), 6))))
    return out


@dataclass(frozen=True)
class SizedPosition:
    """One position of the book (a hedge leg on its own) at the size the largest book gives it."""

    key: str  # the symbol, or the symbol and its leg (``BTCUSDT#long``) for a hedge-mode leg
    symbol: str
    side: Side
    position_side: PositionSide
    size: Decimal  # as held now
    largest: Decimal  # the largest size, down to the lot


@dataclass(frozen=True)
class LargestSizes:
    """The largest multiple of the book that survives every held asset's worst window at once,
    one price path per asset: ``moves`` gives each asset's move (its worst fall or its worst
    rise), ``positions`` each position's size at that multiple (at most 100 times the book)."""

    factor: Decimal
    moves: dict[str, Decimal]
    positions: tuple[SizedPosition, ...]


def _moved(snapshot: AccountSnapshot, moves: dict[str, Decimal], factor: Decimal = Decimal(1)) -> AccountSnapshot:
    """The book times ``factor`` with every held asset moved: the marks of its positions and, in a
    multi-asset pool, its collateral price (one price per asset, whatever the leg)."""
    positions = []
    for position in snapshot.positions:
        move = moves.get(position.instrument.base_asset, Decimal(0))
        positions.append(position._replace(size=position.size * factor).with_mark(position.mark_price * (1 + move)))
    if snapshot.asset_mode != "multi":
        return snapshot._replace(positions=tuple(positions))
    prices = {a: p * (1 + moves[a]) if a in moves else p for a, p in snapshot.prices.items()}
    return snapshot._replace(positions=tuple(positions), prices=prices)


def adverse_moves(snapshot: AccountSnapshot, worst: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Decimal]:
    """One move per held asset, its worst fall or its worst rise: the one that leaves the account
    the lower health with that asset alone moved. A net long of an asset is hurt by its fall and
    a net short by its rise; where the legs cancel (long and short one BTC), the move that lifts
    the maintenance of both (a rise) is the worse. The direction is chosen on the book as held."""
    moves = {}
    for asset, (fall, rise) in worst.items():
        after = {move: _lowest(_moved(snapshot, {asset: move})) for move in (fall, rise)}
        moves[asset] = rise if after[rise] < after[fall] else fall
    return moves


def _lowest(snapshot: AccountSnapshot) -> Decimal:
    """The account's lowest health (infinite where nothing is required)."""
    lowest = evaluate_account(snapshot, with_prices=False).lowest_health()
    return Decimal("Infinity") if lowest is None else lowest


def largest_sizes(snapshot: AccountSnapshot, window_hours: int = 24) -> LargestSizes:
    """The largest book that stays above maintenance when every held asset takes its worst
    historical window at once, in the direction that hurts the account (:func:`adverse_moves`).
    One symbol has one price: a hedge's long and short legs move together. The book keeps its
    shape (one factor scales every position, at most 100 times), and each position, hedge legs
    apart, gets its own size."""
    worst = worst_windows(list(held_assets(snapshot)), window_hours)

    def survives(factor: Decimal) -> bool:
        return not evaluate_account(_moved(snapshot, moves, factor), with_prices=False).liquidatable

    with exact_context():
        moves = adverse_moves(snapshot, worst)
        low, high = Decimal(0), Decimal(100)
        if survives(high):
            low = high
        else:
            for _ in range(BISECTIONS):
                middle = (low + high) / 2
                low, high = (middle, high) if survives(middle) else (low, middle)
        factor = quantize(low, Decimal("0.0001"), rounding=Rounding.FLOOR)
        sized = tuple(
            SizedPosition(
                position_key(p.symbol, p.position_side), p.symbol, p.side, p.position_side, p.size,
                to_tick(p.size * factor, p.instrument.lot_size, rounding=Rounding.FLOOR),
            )
            for p in snapshot.positions
        )  # fmt: skip
    return LargestSizes(factor, moves, sized)


@dataclass(frozen=True)
class LeverageAdvice:
    asset: str
    annual_volatility: float
    worst_day_quantile: float  # the 99.5 % quantile of 24 h falls (a positive fraction)
    recommended: int
    venue_max: Decimal


def leverage_advice(snapshot: AccountSnapshot) -> list[LeverageAdvice]:
    """Per held asset: leverage such that a 1-in-200 day's fall still leaves the maintenance rate,
    ``1 / (fall + MMR)``, never above the venue's own first-tier maximum."""
    history = load_history()
    advice = []
    for asset in sorted({p.instrument.base_asset for p in snapshot.positions}):
        instrument = next(p.instrument for p in snapshot.positions if p.instrument.base_asset == asset)
        returns = history.joint([asset], field="positions")[:, 0]
        cumulative = np.concatenate([[0.0], np.cumsum(returns)])
        day = -np.expm1(cumulative[24:] - cumulative[:-24])
        fall = float(np.quantile(day, 0.995))
        tier = instrument.tiers[0] if instrument.tiers else None
        mmr = float(instrument.tier_rates[0][0]) if tier else 0.0
        venue_max = tier.max_leverage if tier else Decimal(snapshot.rulebook.conventions.default_leverage)
        recommended = max(1, min(int(1 / (fall + mmr)), int(venue_max)))
        volatility = float(np.std(returns) * np.sqrt(365 * 24))
        advice.append(LeverageAdvice(asset, volatility, fall, recommended, venue_max))
    return advice


@dataclass(frozen=True)
class TrailingBuffer:
    """How much unrealised profit to count as collateral: nothing until the first milestone, then
    the fraction of each milestone crossed (profit as a fraction of the position's entry value).

    ``milestones`` are ``(profit fraction, counted fraction)`` pairs, rising. The backtester uses
    it to decide how much of a winning position's profit may back new risk.
    """

    milestones: tuple[tuple[Decimal, Decimal], ...] = (
        (Decimal("0.05"), Decimal("0.25")),
        (Decimal("0.15"), Decimal("0.5")),
        (Decimal("0.3"), Decimal("0.75")),
    )

    def __post_init__(self) -> None:
        previous = (Decimal(0), Decimal(0))
        for n, (profit, counted) in enumerate(self.milestones):
            if profit <= previous[0] or not previous[1] <= counted <= 1:
                raise InputError(f"milestones[{n}]", "profit levels must rise and counted fractions rise within [0, 1]")
            previous = (profit, counted)

    def counted(self, unrealized_pnl: Decimal, entry_value: Decimal) -> Decimal:
        """The part of ``unrealized_pnl`` counted as collateral (losses always count in full)."""
        if unrealized_pnl <= 0 or entry_value <= 0:
            return unrealized_pnl
        fraction = Decimal(0)
        for profit, counted in self.milestones:
            if unrealized_pnl >= profit * entry_value:
                fraction = counted
        return unrealized_pnl * fraction


#: Simulations a reserve-for-probability search runs: without and with the ceiling, then bisections.
RESERVE_SEARCH_RUNS = 32


def reserve_for_probability(
    pool: Pool,
    model: ReturnModel,
    target: float,
    *,
    steps: int,
    paths: int,
    seed: int,
    ceiling: float,
    on_run: Callable[[], None] | None = None,
) -> float | None:
    """The least extra wallet that brings the Monte Carlo liquidation probability to ``target`` or
    below, bisected with the same paths for every amount (common random numbers, so the answer
    moves with the reserve and not with the noise); ``None`` if even ``ceiling`` does not."""
    if not 0 <= target < 1:
        raise InputError("target", f"must lie in [0, 1), got {target}")

    def probability(extra: float) -> float:
        if on_run is not None:
            on_run()
        topped = pool.with_deposit(extra)
        return simulate(topped, model, steps=steps, paths=paths, seed=seed).liquidation_probability

    if probability(0.0) <= target:
        return 0.0
    if probability(ceiling) > target:
        return None
    low, high = 0.0, ceiling
    for _ in range(RESERVE_SEARCH_RUNS - 2):
        middle = (low + high) / 2
        low, high = (low, middle) if probability(middle) <= target else (middle, high)
    return high
