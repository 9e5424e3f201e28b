"""Which accounts a mark update can have liquidated: bands of safe prices per position.

After an exact check the engine remembers each pool's surplus (margin balance less
requirement) and gives every position a share of it. A mark move of ``dP`` changes a linear
position's PnL by ``size x dP`` and its requirement by at most ``size x dP`` times its highest
tier rate (plus the liquidation fee where the venue counts it): maintenance is continuous
with that slope for marginal tiers. So while each position's mark stays strictly inside the
band its share allows, the pool's surplus stays positive and nothing can be liquidatable. Per
symbol the bands sit in two heaps; a mark update pops only the accounts whose band it left
and checks those exactly. (Inverse positions use the same bound in ``1 / P``.)

Every command that changes an account (a fill, a transfer of money or collateral, a
liquidation) checks or refreshes it, so its bands are always current; a stale entry in a heap
is recognised by its token and dropped. Two changes keep their bands: a tenth of each pool's
surplus is held back from the bands as a reserve, and a funding payment or the cost of a
cross reduction (slippage against the mark, the fee) that the reserve still covers is taken
from it, so the surplus stays above what the bands spend plus what the reserve paid; only an
account whose reserve runs out is checked exactly. Where a move in a position's favour can
only raise the surplus, only its adverse edge is filed. Venues whose tiers jump
(whole-position rates), and accounts whose pool values several assets (multi-asset mode),
are checked in full on every update.
"""

from __future__ import annotations

import heapq
from decimal import Decimal

from crossmargin.engine.base import EngineBase
from crossmargin.engine.state import AccountState, Watch, key_of, usd_price
from crossmargin.margin.collateral import ask_rate
from crossmargin.margin.evaluate import Evaluation
from crossmargin.margin.types import MarginMode, Position
from crossmargin.rules.schema import Instrument
from crossmargin.units import ONE, ZERO, Rounding, div

#: Share of a pool's surplus kept out of its bands, to absorb funding without an exact check.
FUNDING_RESERVE = Decimal("0.1")
ISOLATED_KEY = "iso:"
#: Share of a multi-asset pool's surplus set aside for moves of its collateral's USD prices.
PRICE_RESERVE = Decimal("0.3")
#: A multi-asset pool's reserve is in USD, so no funding payment or reduction (in a settlement
#: asset) draws on it: those forget the account, which is then checked exactly.
MULTI_KEY = "multi"
#: A heap is swept of stale edges when it holds more than this many per watched account (+ slack).
STALE_FACTOR = 4
STALE_SLACK = 1024


def eligible(engine: EngineBase) -> bool:
    """Bands are sound for single-asset pools of marginal tiers without a close fee inside MM."""
    watch = engine.watch
    if watch.sound is None:  # the rulebook never changes under an engine: decide once
        conventions = engine.rulebook.conventions
        watch.sound = conventions.asset_mode == "single" and not conventions.close_fee_in_maintenance
    return watch.sound


def _slope(engine: EngineBase, symbol: str) -> Decimal | None:
    """Highest rate at which a unit of notional can raise the requirement; None: no bound."""
    slopes = engine.watch.slopes
    if symbol not in slopes:
        instrument = engine.rulebook.instrument(symbol)
        if instrument.tier_style != "marginal" or not instrument.tiers:
            slopes[symbol] = None
        else:
            in_ratio = engine.rulebook.conventions.liquidation_fee_in_ratio
            fee = (instrument.liquidation_fee or ZERO) if in_ratio else ZERO
            slopes[symbol] = max(rate for rate, _ in instrument.tier_rates) + fee
    return slopes[symbol]


def _fixed_slope(engine: EngineBase, position: Position) -> Decimal:
    """The slope of a position whose maintenance rate is fixed at every price (imported with the
    venue's own): its requirement is exactly that rate times its notional, less the fixed amount."""
    assert position.mmr_override is not None
    in_ratio = engine.rulebook.conventions.liquidation_fee_in_ratio
    return position.mmr_override + ((position.instrument.liquidation_fee or ZERO) if in_ratio else ZERO)


def _band(
    instrument: Instrument, slope: Decimal | None, mark: Decimal | None, size: Decimal, budget: Decimal
) -> tuple[Decimal, Decimal | None] | None:
    """Open interval of marks within which the position spends less than ``budget``."""
    if slope is None or mark is None or budget <= 0:
        return None
    if instrument.kind == "linear":
        room = div(budget, size * (ONE + slope), rounding=Rounding.FLOOR)
        return mark - room, mark + room
    # inverse: the coin value n x CS / P moves by at most room in 1/P
    room = div(budget, size * instrument.contract_size * (ONE + slope), rounding=Rounding.FLOOR)
    inverse_mark = div(ONE, mark, rounding=Rounding.HALF_EVEN)
    low = div(ONE, inverse_mark + room, rounding=Rounding.CEILING)
    high = None if inverse_mark - room <= 0 else div(ONE, inverse_mark - room, rounding=Rounding.FLOOR)
    return low, high


def remember(engine: EngineBase, account: AccountState, evaluation: Evaluation) -> None:
    """Give each position its share of its pool's surplus and file the bands."""
    watch = engine.watch
    watch.sequence += 1
    token = watch.tokens[account.account_id] = watch.sequence
    watch.unwatched.discard(account.account_id)
    if not eligible(engine):  # no bands, so no reserves either: every update checks exactly
        return
    account_id = account.account_id
    multi = account.asset_mode == "multi"
    reserves = watch.reserves[account_id] = {}
    groups = [
        (
            MULTI_KEY if multi else report.figures.pool.settlement_asset,
            report.figures.margin_balance - report.figures.requirement,
            [f.position for f in report.figures.positions],
        )
        for report in evaluation.pools
        if report.figures.positions
    ]
    for iso in evaluation.isolated:
        position = iso.figures.position
        groups.append((ISOLATED_KEY + key_of(position), iso.margin_balance - iso.figures.requirement, [position]))
    for key, available, positions in groups:
        reserves[key] = available * FUNDING_RESERVE if available > 0 else ZERO
        if key == MULTI_KEY:
            _file_multi_asset(engine, evaluation, available - reserves[key], account_id, token)
            continue
        share = div(available - reserves[key], Decimal(len(positions)), rounding=Rounding.FLOOR)
        for position in positions:
            _file(engine, position, share, account_id, token)


def _file_multi_asset(
    engine: EngineBase, evaluation: Evaluation, surplus: Decimal, account_id: str, token: int
) -> None:
    """Bands for a multi-asset pool: part of its USD surplus for its marks, part for its assets' prices.

    Each position gets a share in its settlement asset (see :func:`_in_settlement_asset`). Each
    priced asset gets a price band: a price move ``dP`` changes the asset's USD value by at most
    ``dP x (1 + ask buffer)`` per unit of its equity, of the requirement it settles and of what
    the mark bands may still move them by, so the pool stays safe while every price stays inside.
    """
    (report,) = [r for r in evaluation.pools if r.figures.positions]
    valuation = report.figures.pool.valuation
    assert valuation is not None
    for_prices = surplus * PRICE_RESERVE if surplus > 0 else ZERO
    share = div(surplus - for_prices, Decimal(len(report.figures.positions)), rounding=Rounding.FLOOR)
    exposure: dict[str, Decimal] = {asset: abs(balance) for asset, balance in valuation.balances.items()}
    for figures in report.figures.positions:
        position = figures.position
        units = _in_settlement_asset(engine, share, position)
        asset = position.settlement_asset
        exposure[asset] = exposure.get(asset, ZERO) + abs(figures.unrealized_pnl) + figures.requirement + units
        _file(engine, position, units, account_id, token, both=True)
    priced = {a: x for a, x in exposure.items() if a != "USD" and x > 0 and a in engine.asset_prices}
    bands = engine.watch.price_bands[account_id] = {}
    for asset, units in priced.items():
        per_price = units * ask_rate(ONE, engine.rulebook.collateral(asset))
        room = div(for_prices, Decimal(len(priced)) * per_price, rounding=Rounding.FLOOR)
        price = engine.asset_prices[asset]
        bands[asset] = (price - room, price + room)


def price_moved_out(engine: EngineBase, account_id: str, asset: str, price: Decimal) -> bool:
    """Whether a new price of ``asset`` may have put the multi-asset account at risk: it has no
    current bands, or the price left the account's band for that asset."""
    if not eligible(engine) or account_id not in engine.watch.tokens:
        return True
    band = engine.watch.price_bands.get(account_id, {}).get(asset)
    if band is None:  # no exposure to that asset when the bands were filed
        return False
    low, high = band
    return not low < price < high


def _in_settlement_asset(engine: EngineBase, share_usd: Decimal, position: Position) -> Decimal:
    """A multi-asset pool's USD budget in units of a position's settlement asset.

    A unit of that asset moves the pool's USD equity by at most its ask rate (price x (1 + ask
    buffer)): a debt counts in full at the ask, a positive balance at most at the bid after
    haircut. Requirements are valued at the same ask rate, so dividing by it keeps the band sound.
    """
    asset = position.settlement_asset
    price = usd_price(engine.asset_prices, asset)
    if price is None:
        return ZERO  # no band: checked exactly at the next update
    return div(share_usd, ask_rate(price, engine.rulebook.collateral(asset)), rounding=Rounding.FLOOR)


def _file(
    engine: EngineBase, position: Position, share: Decimal, account_id: str, token: int, *, both: bool = False
) -> None:
    """File one position's band edges (at its mark, which the evaluation priced it at). ``both``
    files both edges even where a favourable move cannot hurt a single-asset pool (a haircut
    can make a multi-asset pool gain less than its requirement grows)."""
    watch, symbol, mark = engine.watch, position.instrument.symbol, position.mark_price
    slope = _slope(engine, symbol) if position.mmr_override is None else _fixed_slope(engine, position)
    band = _band(position.instrument, slope, mark, position.size, share)
    low, high = band if band is not None else (None, None)
    # no band: file at the mark, so the next update checks the account exactly
    one_sided = band is not None and not both and _gains_one_way(engine, slope)
    sign = position.side.sign
    if not (one_sided and sign < 0):  # a short never loses surplus as its mark falls
        _push(watch, watch.lows.setdefault(symbol, []), (-(mark if low is None else low), account_id, token))
    if (high is not None or band is None) and not (one_sided and sign > 0):
        _push(watch, watch.highs.setdefault(symbol, []), (mark if high is None else high, account_id, token))


def _gains_one_way(engine: EngineBase, slope: Decimal | None) -> bool:
    """Whether a move in a position's favour can never lower its pool's surplus.

    It gains PnL one for one (in 1/P for inverse contracts) and its requirement grows at most
    ``slope`` < 1 times as fast, so the surplus rises, provided the venue counts that profit
    toward maintenance. Then only the adverse edge of its band needs watching.
    """
    full = engine.rulebook.conventions.positive_pnl.maintenance == "full"
    return full and slope is not None and slope < ONE


def _push(watch: Watch, heap: list[tuple[Decimal, str, int]], entry: tuple[Decimal, str, int]) -> None:
    """File a band edge; when stale edges outnumber live accounts many times over, drop them.

    Every re-check files new edges and leaves the old ones to be recognised by their token;
    without a sweep now and then a heap grows with every order ever checked.
    """
    heapq.heappush(heap, entry)
    if len(heap) > STALE_FACTOR * len(watch.tokens) + STALE_SLACK:
        tokens = watch.tokens
        heap[:] = [edge for edge in heap if tokens.get(edge[1]) == edge[2]]
        heapq.heapify(heap)


def triggered(engine: EngineBase, symbol: str) -> set[str]:
    """Accounts whose band on ``symbol`` the current mark has reached or left."""
    watch = engine.watch
    mark = engine.market(symbol).mark
    found: set[str] = set()
    if mark is None:
        return found
    lows, highs = watch.lows.get(symbol, []), watch.highs.get(symbol, [])
    while lows and -lows[0][0] >= mark:
        _, account_id, token = heapq.heappop(lows)
        if watch.tokens.get(account_id) == token:
            found.add(account_id)
    while highs and highs[0][0] <= mark:
        _, account_id, token = heapq.heappop(highs)
        if watch.tokens.get(account_id) == token:
            found.add(account_id)
    return found


def forget(engine: EngineBase, account_id: str) -> None:
    """Invalidate an account's bands (it will be checked at the next update of its symbols)."""
    engine.watch.tokens.pop(account_id, None)
    engine.watch.reserves.pop(account_id, None)
    engine.watch.price_bands.pop(account_id, None)
    engine.watch.unwatched.add(account_id)


def pool_key(position_key: str, margin_mode: MarginMode, settlement_asset: str) -> str:
    """The key a position's surplus and reserve are filed under: its pool, or itself if isolated."""
    return ISOLATED_KEY + position_key if margin_mode is MarginMode.ISOLATED else settlement_asset


def absorb_reduction(engine: EngineBase, account_id: str, key: str, margin_change: Decimal) -> bool:
    """Whether a cross reduction leaves the account's bands sound, taking its cost from the reserve.

    Reducing a position never raises its requirement (maintenance and fees in the ratio grow
    with notional on marginal tiers), and a smaller position spends less within the same band;
    so only what the fill cost the margin balance (slippage against the mark, the fee) can eat
    into the surplus, and the reserve covers that or the account is checked exactly.
    """
    cost = -margin_change if margin_change < 0 else ZERO
    return eligible(engine) and _draw_reserve(engine, account_id, key, cost)


def absorb_payment(engine: EngineBase, account_id: str, key: str, amount: Decimal) -> None:
    """Take a funding payment from the pool's reserve, or forget the account when it cannot."""
    if not _draw_reserve(engine, account_id, key, amount):
        forget(engine, account_id)


def _draw_reserve(engine: EngineBase, account_id: str, key: str, amount: Decimal) -> bool:
    """Take ``amount`` from the reserve of an account whose bands are current; ``False`` (and
    nothing taken) when it has no such reserve or the reserve is too small."""
    reserves = engine.watch.reserves.get(account_id)
    if reserves is None or key not in reserves or account_id not in engine.watch.tokens:
        return False
    if amount > reserves[key]:
        return False
    reserves[key] -= amount
    return True
