"""Mango Markets, 11 October 2022, replayed through the engine against every venue's rulebook.

The attack (reference/incidents-and-guards.md section 4; Mango DAO governance proposals of October 2022,
CFTC and SEC complaints of January 2023): two accounts funded with $5M each self-trade 483M MNGO-PERP at
$0.0382 ($18.5M of notional), the trader pumps MNGO's thin market from $0.0382 to $0.54 within ten
minutes, the long's unrealised profit is borrowed against and withdrawn, and MNGO falls back to ~$0.02.

The replay, every step a command of :class:`crossmargin.engine.Engine`:

- **Accounts.** ``long`` and ``short`` each deposit Mango's ratio, $5M per $18.5M of notional, or, where
  the venue's tier asks more initial margin at that size, that margin plus 2 %. Both set the highest
  leverage the venue offers; the insurance fund holds $1,000,000,000 (in the settlement asset at the start
  price), enough that no deficit of the replay reaches deleveraging, so what is measured is the venue's
  withdrawal defences, not ADL.
- **The self-trade.** ``long`` rests a limit buy and ``short`` a limit sell at the start price; the next
  update puts the mark there and both fill as makers, at one price, as the two Mango accounts traded with
  each other (the engine fills no order against another account's).
- **A thin book.** Before every update the book is replaced by a thin one around the market's last
  price: 5 levels a side, 2 % apart from 0.1 % off the price, $100,000 each, $500,000 a side within 8.1 %
  (no MNGO book is in the data; Mango's trader moved the price 14x with about $4M of spot buying). What
  the engine takes from the book (liquidations) walks it, and what it cannot absorb is taken over at its
  last level.
- **The pump.** The path of ``src/crossmargin/risk/incidents/mango-2022.yaml``: the last price rises to
  14.14x in ten one-minute steps, is held for the 30 minutes of withdrawals and falls to 0.52x. The
  trader controls that market's own price (last trades and book), not the venue's index (a composite
  of spot venues), which rises in proportion to +100 % at the peak (FTX's bands held its MNGO index to
  about +100 % while some venues printed +900 %) and falls with the rest. Each update carries index and
  last price, plus a mark equal to the last price where the rulebook takes marks as given; a rulebook
  that builds its mark (Binance's median of index, book basis and last) or margins at the oracle (dYdX)
  gets no mark and makes its own.
- **Withdrawals.** After every update each account withdraws all that the engine's withdrawal check lets
  leave (``crossmargin.engine.funds.withdrawable``, which is also what ``crossmargin run`` shows), then
  tries one unit more, whose refusal is recorded. A venue that lets unrealised profit leave
  (``positive_pnl.withdrawals: full``) settles it into the wallet first.
- **Extracted** = everything the two accounts withdrew less everything they deposited, in the settlement
  asset; their equity left on the venue does not count. The trader picks a size: the replay runs at
  Mango's notional, a quarter and a sixteenth of it, each capped at the instrument's largest position
  (its last tier's cap), and a venue's figure is the most extracted over the three.

Instruments are each rulebook's thinnest: the smallest largest position where the table has several,
otherwise the one table there is (OKX's BTC-USDT-SWAP, Binance COIN-M's BTCUSD_PERP). Start prices are
round prices of each instrument's order of magnitude; the path is relative to them.

What holds, and why (printed by ``test_the_figures``):

- **Binance USD-M and COIN-M, Bybit, OKX**: unrealised profit is never withdrawable; the long may take
  out its wallet less maintenance, and then the reversion (or the pump, for the short) liquidates it
  with a deficit the fund pays. Extracted <= 0 at every size. With ``withdrawals: full`` the same
  replays extract, so the rule, not the replay, is what holds (at Mango's size Binance still holds even
  then: its last brackets lend at 1x, an initial margin equal to the notional).
- **dYdX**: at Mango's size the open-interest-scaled initial margin fraction is 100 % and neither order
  fills; without the scaling the same replay extracts. Below its open-interest caps ($5M to $10M on
  DYDX-USD) the venue is exposed in the model: it margins at the oracle, which the replay moves +100 %,
  and counts unrealised profit in free collateral, so the long withdraws it and leaves the reversion's
  deficit to the fund. Its documented withdrawal rate limits (the larger of 1 % of TVL and $1M per hour)
  and the 50-block gate after a negative subaccount slow, but do not stop, a withdrawal of this size.
- **Hyperliquid**: exposed in the model. Unrealised profit may be withdrawn down to max(IM, 10 % of
  notional); the replay extracts with the pumped mark, and still extracts with the mark at the index
  (+100 %), the least any median of oracle, book and external perpetuals could give here, so no mark
  construction closes it. Its open-interest caps bound the size, not the sign.
- **generic**, undefended (profit withdrawable, marks as given, no oracle rails): extracts. With oracle
  rails added (a 5 % band around the index) nothing leaves during the pump, but the fall liquidates the
  long with a deficit and the short's profit leaves: rails alone do not hold where profit is withdrawable.

Not modelled: borrowing on withdrawal (the engine lets a multi-asset pool's assets leave from their own
balances only, so the replay runs single-asset pools, where Mango's "borrow" is a withdrawal of profit).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.engine import Engine
from crossmargin.engine.commands import (
    Command,
    Deposit,
    DepthUpdate,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    Result,
    ResultCode,
    SetLeverage,
    Withdraw,
)
from crossmargin.engine.funds import withdrawable
from crossmargin.engine.ledger import AccountKind, LedgerAccount
from crossmargin.margin.position import tier_basis_value, tier_index_for
from crossmargin.risk.scenarios import load_incident
from crossmargin.rules import Rulebook, load_rulebook, parse_rulebook
from crossmargin.rules.schema import Instrument
from crossmargin.scenario import parse_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "mango-replay-binance.yaml"

MANGO_NOTIONAL = Decimal("18500000")  # 483M MNGO at $0.0382
MANGO_DEPOSIT_SHARE = Decimal(5) / Decimal("18.5")  # $5M per account
SIZES = (Decimal(1), Decimal("0.25"), Decimal("0.0625"))  # of Mango's notional
INSURANCE_USD = Decimal("1000000000")
INDEX_AT_PEAK = Decimal(1)  # +100 %: FTX's bands held its MNGO index there
BOOK_LEVELS, BOOK_STEP, BOOK_HALF_SPREAD, BOOK_LEVEL_USD = 5, Decimal("0.02"), Decimal("0.001"), Decimal(100000)
ACCOUNTS = ("long", "short")

#: Each venue's thinnest instrument and a round start price of its order of magnitude.
VENUES: dict[str, tuple[str, Decimal]] = {
    "binance-usdm": ("ADAUSDT", Decimal("0.3500")),  # last bracket caps at $50M, 1x above $30M
    "binance-coinm": ("BTCUSD_PERP", Decimal("60000.0")),  # the one bracket table
    "bybit": ("LTCUSDT", Decimal("60.00")),  # largest position $15M (as BNB, 1000PEPE)
    "okx": ("BTC-USDT-SWAP", Decimal("60000.0")),  # the one tier table
    "hyperliquid": ("BNB", Decimal("600.00")),  # its first tier ends at $3M, the lowest
    "dydx": ("DYDX-USD", Decimal("1.500")),  # long-tail tier: IMF 20 %, open-interest caps $5M-$10M
    "generic": ("LTC-PERP", Decimal("60.00")),  # largest position $5M
}
DEFENDED = ("binance-usdm", "binance-coinm", "bybit", "okx")


@dataclass
class Outcome:
    """One replay: what went in and out of the two accounts, in the settlement asset."""

    venue: str
    symbol: str
    notional: Decimal  # USD at the start price, after the cap
    size: Decimal
    deposit: Decimal
    opened: bool
    withdrawn: dict[str, Decimal]
    fund_change: Decimal
    peak_mark: Decimal
    refusals: set[str] = field(default_factory=set)  # result codes of the one-unit-more attempts
    commands: list[Command] = field(default_factory=list, repr=False)  # everything sent, in order

    @property
    def extracted(self) -> Decimal:
        return sum(self.withdrawn.values(), Decimal(0)) - 2 * self.deposit


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def _ceil(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_CEILING) * step


def price_path() -> list[tuple[int, Decimal, Decimal]]:
    """``(timestamp ms, last, index)`` as multiples of the start price: the incident file's MNGO moves
    for the last price; the index rises in proportion to +100 % at the peak and falls with the rest."""
    steps = load_incident("mango-2022").steps
    peak = max(step.moves["MNGO"] for step in steps)
    path = []
    for step in steps:
        move = step.moves["MNGO"]
        index_move = move * INDEX_AT_PEAK / peak if move > 0 else move
        path.append((int(step.hours * 3_600_000), 1 + move, 1 + index_move))
    return path


def thin_book(instrument: Instrument, last: Decimal) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
    """``(bids, asks)``: ``BOOK_LEVELS`` levels a side of ``BOOK_LEVEL_USD`` each around ``last``."""
    bids: list[tuple[Decimal, Decimal]] = []
    asks: list[tuple[Decimal, Decimal]] = []
    tick = instrument.tick_size
    unit = instrument.lot_size if instrument.kind == "linear" else Decimal("1e-8")  # inverse books count coin
    for level in range(BOOK_LEVELS):
        offset = BOOK_HALF_SPREAD + BOOK_STEP * level
        bid, ask = _floor(last * (1 - offset), tick), _ceil(last * (1 + offset), tick)
        if bid > 0 and (not bids or bid < bids[-1][0]) and _floor(BOOK_LEVEL_USD / bid, unit) > 0:
            bids.append((bid, _floor(BOOK_LEVEL_USD / bid, unit)))
        if (not asks or ask > asks[-1][0]) and _floor(BOOK_LEVEL_USD / ask, unit) > 0:
            asks.append((ask, _floor(BOOK_LEVEL_USD / ask, unit)))
    return tuple(bids), tuple(asks)


def sized(instrument: Instrument, notional: Decimal, start: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """``(order size, notional in the settlement asset, initial margin at the tier's leverage)`` for
    ``notional`` USD at ``start``, the size capped at the instrument's largest position."""
    if instrument.kind == "linear":
        size = _floor(notional / start, instrument.lot_size)
    else:
        size = _floor(notional / instrument.contract_size, instrument.lot_size)

    def value(quantity: Decimal) -> Decimal:
        if instrument.kind == "linear":
            return quantity * start
        return quantity * instrument.contract_size / start

    cap = instrument.tiers[-1].cap
    basis = tier_basis_value(instrument, size, value(size))
    if cap is not None and basis > cap:
        size = _floor(size * cap / basis, instrument.lot_size)
    tier = instrument.tiers[tier_index_for(instrument, tier_basis_value(instrument, size, value(size)))]
    return size, value(size), value(size) / tier.max_leverage


def takes_marks_as_given(rulebook: Rulebook) -> bool:
    """Whether the venue takes an update's mark as sent (else it builds one, or margins at the oracle)."""
    conventions = rulebook.conventions
    return conventions.mark_construction == "given" and conventions.price_for_margin == "mark"


class Replay:
    """The engine, the two accounts and the ledger figures of one replay."""

    def __init__(self, rulebook: Rulebook, symbol: str, start: Decimal, *, mark_at_index: bool = False) -> None:
        self.engine = Engine(rulebook)
        self.instrument = rulebook.instrument(symbol)
        self.asset = self.instrument.settlement_asset
        self.unit = rulebook.asset_unit(self.asset)
        self.start = start
        self.mark_at_index = mark_at_index
        self.sent_marks = takes_marks_as_given(rulebook) or mark_at_index
        self.withdrawn = dict.fromkeys(ACCOUNTS, Decimal(0))
        self.refusals: set[str] = set()
        self.commands: list[Command] = []

    def execute(self, command_type: Any, *fields: Any, **named: Any) -> Result:
        command = command_type(f"c{len(self.commands) + 1}", *fields, **named)
        self.commands.append(command)
        return self.engine.execute(command)

    def update(self, timestamp_ms: int, last: Decimal, index: Decimal) -> None:
        """A new thin book around ``last``, then the market update the venue's rulebook takes."""
        symbol = self.instrument.symbol
        bids, asks = thin_book(self.instrument, last)
        assert self.execute(DepthUpdate, symbol, timestamp_ms, bids, asks).code.accepted
        mark = (index if self.mark_at_index else last) if self.sent_marks else None
        assert self.execute(MarketUpdate, symbol, timestamp_ms, mark=mark, index=index, last=last).code.accepted

    def withdraw_all(self) -> None:
        """Each account asks for all that the margin check lets leave (the oracle guard may still refuse
        it), then for one unit more, which is refused."""
        for name in ACCOUNTS:
            account = self.engine.accounts[name]
            most = withdrawable(self.engine, account, self.asset, settling=True)
            if most > 0:
                result = self.execute(Withdraw, name, self.asset, most)
                if result.code.accepted:
                    self.withdrawn[name] += most
                else:
                    self.refusals.add(result.code.value)
            refused = self.execute(Withdraw, name, self.asset, self.unit)
            assert not refused.code.accepted, (name, refused)
            self.refusals.add(refused.code.value)

    @property
    def fund(self) -> Decimal:
        return self.engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, self.asset))


def replay(rulebook: Rulebook, symbol: str, start: Decimal, share: Decimal, *, mark_at_index: bool = False) -> Outcome:
    """The whole attack at ``share`` of Mango's notional (see the module's docstring)."""
    run = Replay(rulebook, symbol, start, mark_at_index=mark_at_index)
    instrument, tick = run.instrument, run.instrument.tick_size
    size, value, initial = sized(instrument, MANGO_NOTIONAL * share, start)
    deposit = _ceil(max(value * MANGO_DEPOSIT_SHARE, initial * Decimal("1.02")), run.unit)
    seed = _ceil(INSURANCE_USD if instrument.kind == "linear" else INSURANCE_USD / start, run.unit)
    assert run.execute(Deposit, "insurance", run.asset, seed).code.accepted
    for name in ACCOUNTS:
        assert run.execute(Deposit, name, run.asset, deposit).code.accepted
        assert run.execute(SetLeverage, name, symbol, instrument.tiers[0].max_leverage).code.accepted
    # the self-trade: both rest at the start price (the book's best bid is below it), the next mark fills both
    run.update(0, start + tick, start + tick)
    for name, side in zip(ACCOUNTS, ("buy", "sell"), strict=True):
        placed = run.execute(PlaceOrder, name, symbol, side, size, OrderType.LIMIT, price=start)
        assert placed.code is ResultCode.ACCEPTED and placed.events[0]["event"] == "order_resting", placed
    run.update(1_000, start, start)
    opened = all(symbol in run.engine.accounts[name].positions for name in ACCOUNTS)
    peak = start
    for timestamp_ms, last, index in price_path():
        run.update(timestamp_ms, _floor(start * last, tick), _floor(start * index, tick))
        peak = max(peak, run.engine.market(symbol).mark or start)
        run.withdraw_all()
    return Outcome(
        rulebook.venue, symbol, size * (start if instrument.kind == "linear" else instrument.contract_size),
        size, deposit, opened, run.withdrawn,
        run.fund - seed, peak, run.refusals, run.commands,
    )  # fmt: skip


def replays(rulebook: Rulebook, *, mark_at_index: bool = False) -> list[Outcome]:
    symbol, start = VENUES[rulebook.venue]
    return [replay(rulebook, symbol, start, share, mark_at_index=mark_at_index) for share in SIZES]


def most_extracted(outcomes: list[Outcome]) -> Decimal:
    return max(outcome.extracted for outcome in outcomes)


def copy_of(venue: str, *, withdrawals: str | None = None, open_interest_scaling: bool = True) -> Rulebook:
    """The venue's rulebook with one defence switched off, every other convention unchanged."""
    raw = load_rulebook(venue).data.model_dump(mode="json")
    if withdrawals is not None:
        raw["conventions"]["positive_pnl"]["withdrawals"] = withdrawals
    if not open_interest_scaling:
        for instrument in raw["instruments"]:
            if instrument.get("open_interest_imf"):
                instrument["open_interest_imf"].update(lower_cap="0", upper_cap="0")
    return parse_rulebook(raw, origin=f"{venue} with a defence off")


@pytest.fixture(scope="module")
def figures() -> dict[str, list[Outcome]]:
    """Every venue's replays at the three sizes, with its rulebook as shipped."""
    return {venue: replays(load_rulebook(venue)) for venue in VENUES}


@pytest.mark.parametrize("venue", DEFENDED)
def test_defended_venues_let_nothing_out(figures: dict[str, list[Outcome]], venue: str):
    """Unrealised profit is not withdrawable on Binance (USD-M and COIN-M), Bybit and OKX
    (``positive_pnl.withdrawals: excluded``, each rulebook's sources): at every size both positions open,
    the pump is marked, and the two accounts take out less than they put in."""
    for outcome in figures[venue]:
        assert outcome.opened, outcome
        assert outcome.peak_mark > 2 * VENUES[venue][1], "the pump reached the mark"
        assert outcome.extracted <= 0, outcome
        assert ResultCode.WOULD_BREACH_WITHDRAWABLE.value in outcome.refusals


@pytest.mark.parametrize("venue", DEFENDED)
def test_with_profit_withdrawable_the_same_replay_extracts(venue: str):
    """The defence is what holds: the same rulebook with ``withdrawals: full`` extracts value."""
    assert most_extracted(replays(copy_of(venue, withdrawals="full"))) > 0


def test_binance_at_mangos_size_also_holds_by_its_one_times_brackets():
    """ADAUSDT's brackets above $30M lend at 1x: an initial margin equal to the notional leaves no profit to
    withdraw even where profit counts, so at Mango's size the copy with ``withdrawals: full`` holds too."""
    symbol, start = VENUES["binance-usdm"]
    outcome = replay(copy_of("binance-usdm", withdrawals="full"), symbol, start, SIZES[0])
    assert outcome.opened and outcome.extracted <= 0


def test_the_undefended_generic_venue_extracts(figures: dict[str, list[Outcome]]):
    """generic: profit withdrawable, marks as given, no oracle rails. Mango's trade pays out, at every size."""
    assert all(outcome.extracted > 0 for outcome in figures["generic"])
    rulebook = load_rulebook("generic")
    assert rulebook.conventions.positive_pnl.withdrawals == "full" and rulebook.conventions.oracle is None
    assert takes_marks_as_given(rulebook)


def test_dydx_refuses_mangos_size_by_its_open_interest_scaled_margin(figures: dict[str, list[Outcome]]):
    """dYdX's initial margin fraction rises from 20 % to 100 % as open interest goes from $5M to $10M
    (DYDX-USD's liquidity tier, dydx@2024-07-27): Mango's $18.5M cannot open on $5M, so nothing leaves.
    Without the scaling the same replay extracts: the scaling is what holds at that size."""
    mango_size = figures["dydx"][0]
    assert not mango_size.opened and mango_size.extracted <= 0
    symbol, start = VENUES["dydx"]
    unscaled = replay(copy_of("dydx", open_interest_scaling=False), symbol, start, SIZES[0])
    assert unscaled.opened and unscaled.extracted > 0


def test_dydx_is_exposed_below_its_open_interest_caps(figures: dict[str, list[Outcome]]):
    """Known exposure, kept out of the defended venues' assertion: below the caps the fraction stays at
    20 %, dYdX margins at the oracle (moved +100 % here) and counts unrealised profit as free
    collateral, so a sixteenth of Mango's size extracts (the oracle's own resistance to a pump of its
    spot venues is outside the model)."""
    smallest = figures["dydx"][-1]
    assert smallest.opened and smallest.extracted > 0
    assert smallest.peak_mark == 2 * VENUES["dydx"][1], "margined at the oracle: the index, not the pumped book"


@pytest.mark.parametrize("mark_at_index", [False, True], ids=["pumped-mark", "mark-at-index"])
def test_hyperliquid_is_exposed(mark_at_index: bool):
    """Known exposure, kept out of the defended venues' assertion: Hyperliquid lets unrealised profit
    leave down to max(IM, 10 % of notional) (docs, Trading > Margining). With the mark at the index
    (+100 %), below the median of oracle, book and external perpetuals, it still extracts."""
    outcomes = replays(load_rulebook("hyperliquid"), mark_at_index=mark_at_index)
    assert all(outcome.opened for outcome in outcomes)
    assert most_extracted(outcomes) > 0


def test_oracle_rails_alone_do_not_hold_where_profit_leaves():
    """The oracle guard (no venue file states rails; here generic's with a 5 % band and a 60 s age, as
    scenarios/rulebooks/generic-with-oracle.yaml has) refuses every withdrawal while the mark is out of
    band and defers the short's liquidation. Back in band, the fall liquidates the long with a deficit the
    fund pays, and the short's profit, withdrawable on this venue, leaves: rails alone do not hold."""
    raw = load_rulebook("generic").data.model_dump(mode="json")
    raw["conventions"]["oracle"] = {"max_age_seconds": 60, "band_fraction": "0.05"}
    outcomes = replays(parse_rulebook(raw, origin="generic with oracle rails"))
    for outcome in outcomes:
        assert ResultCode.STALE_PRICE.value in outcome.refusals
        assert outcome.withdrawn["long"] == 0 < outcome.withdrawn["short"]
        assert outcome.extracted > 0


def test_the_scenario_is_the_binance_replay_at_mangos_size(figures: dict[str, list[Outcome]]):
    """``scenarios/mango-replay-binance.yaml`` scripts this replay: the same commands but for the refused
    withdrawal attempts (which change nothing), and the same withdrawals accepted."""
    scenario = parse_scenario(SCENARIO.read_text(encoding="utf-8"), source=SCENARIO.name)
    reports = run_scenario(scenario)
    assert not [failure for report in reports for failure in report.failures]
    outcome = figures["binance-usdm"][0]

    def unnamed(commands: list[Command]) -> list[Command]:
        return [replace(c, command_id="") for c in commands if not isinstance(c, Withdraw)]

    assert unnamed([step.command for step in scenario.steps]) == unnamed(outcome.commands)
    withdrew = dict.fromkeys(ACCOUNTS, Decimal(0))
    for step, report in zip(scenario.steps, reports, strict=True):
        if isinstance(step.command, Withdraw) and report.code == ResultCode.ACCEPTED.value:
            withdrew[step.command.account] += step.command.amount
    assert withdrew == outcome.withdrawn


# -- the engine rules the replay stands on ------------------------------------------------------------


def test_hyperliquid_profit_leaves_down_to_initial_margin_and_a_tenth_of_notional():
    """Hyperliquid (docs, Trading > Margining): unrealised PnL can be withdrawn if the margin left is at
    least the initial margin and 10 % of the notional. Long 10 BNB at 600 (maker fee 0.015 %: 0.9) at
    10x, mark 700: wallet 9,999.1, PnL 1,000, notional 7,000, initial margin 700 = 10 % of it, so
    9,999.1 + 1,000 - 700 = 10,299.1 may leave, more than the wallet: the profit is settled into it first
    (the entry re-based at 700) and 700 stays. Not one unit more."""
    engine = Engine(load_rulebook("hyperliquid"))
    for command in (
        Deposit("d", "a", "USDC", Decimal(10000)),
        SetLeverage("l", "a", "BNB", Decimal(10)),
        MarketUpdate("m0", "BNB", 0, mark=Decimal("600.01")),
        PlaceOrder("o", "a", "BNB", "buy", Decimal(10), OrderType.LIMIT, price=Decimal(600)),
        MarketUpdate("m1", "BNB", 1_000, mark=Decimal(600)),
        MarketUpdate("m2", "BNB", 2_000, mark=Decimal(700)),
    ):
        assert engine.execute(command).code.accepted
    account = engine.accounts["a"]
    assert engine.ledger.balance(account.wallet("USDC")) == Decimal("9999.1")
    assert withdrawable(engine, account, "USDC", settling=True) == Decimal("10299.1")
    result = engine.execute(Withdraw("w", "a", "USDC", Decimal("10299.1")))
    assert [e["event"] for e in result.events] == ["pnl_settled", "withdrew"]
    assert engine.ledger.balance(account.wallet("USDC")) == Decimal(700)
    assert account.positions["BNB"].entry_price == Decimal(700)
    refused = engine.execute(Withdraw("w2", "a", "USDC", Decimal("0.000001")))
    assert refused.code is ResultCode.WOULD_BREACH_WITHDRAWABLE


def test_dydx_margins_at_the_oracle_when_the_feed_sends_no_mark():
    """dYdX values positions at the oracle price (price_for_margin oracle): an update with an index of 1.5
    and a last trade of 2 puts the margin price at 1.5; a mark sent as such is still taken."""
    engine = Engine(load_rulebook("dydx"))
    assert engine.execute(MarketUpdate("m", "DYDX-USD", 0, index=Decimal("1.5"), last=Decimal(2))).code.accepted
    assert engine.market("DYDX-USD").mark == Decimal("1.5")
    assert engine.execute(MarketUpdate("m2", "DYDX-USD", 1, mark=Decimal("1.6"), index=Decimal("1.5"))).code.accepted
    assert engine.market("DYDX-USD").mark == Decimal("1.6")


def test_dydx_initial_margin_grows_with_open_interest():
    """DYDX-USD (dydx@2024-07-27): IMF 20 % up to $5M of open interest, then linearly to 100 % at $10M.
    x holds 3,000,000 long at 1.5 ($4.5M). y, with 1,000,000 USDC, buys 3,000,000 more: open interest
    (the larger side) becomes $9M, IMF 0.2 + 0.8 x 4/5 = 0.84, an initial margin of 3,780,000, and the fill
    is refused. Selling the same size leaves it at $4.5M (IMF 20 %: 900,000) and fills."""
    engine = Engine(load_rulebook("dydx"))
    for name in ("x", "y"):
        assert engine.execute(Deposit(f"d-{name}", name, "USDC", Decimal(1000000))).code.accepted
        assert engine.execute(SetLeverage(f"l-{name}", name, "DYDX-USD", Decimal(5))).code.accepted
    size, price = Decimal(3000000), Decimal("1.5")
    engine.execute(MarketUpdate("m0", "DYDX-USD", 0, mark=Decimal("1.501")))
    engine.execute(PlaceOrder("x-buys", "x", "DYDX-USD", "buy", size, OrderType.LIMIT, price=price))
    engine.execute(PlaceOrder("y-buys", "y", "DYDX-USD", "buy", size, OrderType.LIMIT, price=price))
    filled = engine.execute(MarketUpdate("m1", "DYDX-USD", 1_000, mark=price))
    assert "DYDX-USD" in engine.accounts["x"].positions and "DYDX-USD" not in engine.accounts["y"].positions
    assert {"event": "order_cancelled", "account": "y", "order_id": "o2", "reason": "insufficient_margin"} in [
        {k: v for k, v in e.items() if k != "command_id"} for e in filled.events
    ]
    engine.execute(MarketUpdate("m2", "DYDX-USD", 2_000, mark=Decimal("1.499")))
    engine.execute(PlaceOrder("y-sells", "y", "DYDX-USD", "sell", size, OrderType.LIMIT, price=price))
    engine.execute(MarketUpdate("m3", "DYDX-USD", 3_000, mark=price))
    assert engine.accounts["y"].positions["DYDX-USD"].size == size


def test_the_figures(figures: dict[str, list[Outcome]], capsys: pytest.CaptureFixture[str]):
    """Prints every venue's figures (``pytest -s`` shows them) and pins their signs."""
    rows = [
        f"{'venue':<14} {'symbol':<14} {'notional':>11} {'opened':>6} {'deposit x2':>18} {'withdrawn':>18} "
        f"{'extracted':>18} {'fund change':>18} {'peak mark':>10}"
    ]
    for venue, outcomes in figures.items():
        for o in outcomes:
            rows.append(
                f"{venue:<14} {o.symbol:<14} {o.notional:>11,.0f} {o.opened!s:>6} {2 * o.deposit:>18,.2f} "
                f"{sum(o.withdrawn.values()):>18,.2f} {o.extracted:>18,.2f} {o.fund_change:>18,.2f} {o.peak_mark:>10}"
            )
    with capsys.disabled():
        print("\nMango replay, extracted = withdrawn - deposited (settlement asset)\n" + "\n".join(rows))
    assert all(most_extracted(figures[venue]) <= 0 for venue in DEFENDED)
    assert most_extracted(figures["generic"]) > 0
