"""A columnar book of many cross accounts, for bulk health: one row per position, grouped by account.

A risk desk or a venue re-marks hundreds of thousands of accounts at once. It needs the figures
the margin functions give for each one, but one ``evaluate_account`` per account is far too slow
for that. The book holds the same inputs as columns (float64 copies of the exact decimals),
with each instrument's tier table flattened. :mod:`crossmargin.risk.bulk` re-marks the columns
in one compiled pass and re-checks every account near the boundary exactly.

What a book models: single-asset cross pools (one settlement asset per account), linear and
inverse contracts, the rulebook's tiers (by notional, contracts or base quantity, either
boundary rule), profit counted for maintenance or not, a liquidation fee inside the ratio, and
a fee to close inside maintenance. A multi-asset pool or an isolated position is refused,
naming the field, rather than approximated.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from crossmargin.margin.position import close_fee_at_bankruptcy
from crossmargin.risk.kernel import CONTRACTS, ENTRY_VALUED, NOTIONAL, SIZE
from crossmargin.rules import Rulebook
from crossmargin.units import InputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def basis_code(kind: str, tier_basis: str, entry_valued: bool = False) -> int:
    """What the compiled loop keys a tier table by (see :mod:`crossmargin.risk.kernel`): notional,
    the position's size, or size over contract size, as ``tier_basis_value`` reads the rulebook;
    plus ``ENTRY_VALUED`` where maintenance is on the entry value (``position_value_basis``)."""
    offset = ENTRY_VALUED if entry_valued else 0
    if tier_basis == "notional" or (tier_basis == "base_quantity" and kind == "inverse"):
        return NOTIONAL + offset
    if tier_basis == "contracts" and kind == "linear":
        return CONTRACTS + offset
    return SIZE + offset


@dataclass(frozen=True)
class InstrumentTable:
    """Per instrument (by index): kind, contract size, tier basis, fee rate in the ratio, and its
    tiers flattened: ``tier_start[i]:tier_start[i + 1]`` are instrument ``i``'s rows."""

    rulebook: Rulebook
    symbols: tuple[str, ...]
    settlement: tuple[str, ...]
    inverse: npt.NDArray[np.bool_]
    contract_size: F64
    basis: I64
    cap_inclusive: npt.NDArray[np.bool_]
    fee_rate: F64
    tier_start: I64
    tier_floor: F64
    tier_mmr: F64
    tier_amount: F64

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook, symbols: list[str] | None = None) -> InstrumentTable:
        """The instruments of a rulebook (all, or ``symbols`` in that order); each needs tiers."""
        names = symbols if symbols is not None else [i.symbol for i in rulebook.data.instruments]
        instruments = [rulebook.instrument(name, field_name=f"symbols[{n}]") for n, name in enumerate(names)]
        conventions = rulebook.conventions
        starts, floors, mmrs, amounts = [0], [], [], []
        for n, instrument in enumerate(instruments):
            if not instrument.tiers:
                raise InputError(f"symbols[{n}]", f"{instrument.symbol} has no tier table in {rulebook.venue}")
            for floor, (mmr, amount) in zip(instrument.tier_floors, instrument.tier_rates, strict=True):
                floors.append(float(floor))
                mmrs.append(float(mmr))
                amounts.append(float(amount))
            starts.append(len(floors))
        in_ratio = conventions.liquidation_fee_in_ratio
        return cls(
            rulebook=rulebook,
            symbols=tuple(i.symbol for i in instruments),
            settlement=tuple(i.settlement_asset for i in instruments),
            inverse=np.array([i.kind == "inverse" for i in instruments], dtype=np.bool_),
            contract_size=np.array([float(i.contract_size) for i in instruments], dtype=np.float64),
            basis=np.array(
                [basis_code(i.kind, i.tier_basis, conventions.position_value_basis == "entry") for i in instruments],
                dtype=np.int64,
            ),
            cap_inclusive=np.array([i.tier_boundary == "cap_inclusive" for i in instruments], dtype=np.bool_),
            fee_rate=np.array(
                [float(i.fee("liquidation_fee")) if in_ratio else 0.0 for i in instruments], dtype=np.float64
            ),
            tier_start=np.array(starts, dtype=np.int64),
            tier_floor=np.array(floors, dtype=np.float64),
            tier_mmr=np.array(mmrs, dtype=np.float64),
            tier_amount=np.array(amounts, dtype=np.float64),
        )


@dataclass(frozen=True)
class Book:
    """Accounts as columns. Positions of account ``a`` are rows ``account_start[a]:account_start[a + 1]``.

    ``signed_size`` is long positive, short negative (base units, or contracts for inverse);
    ``fixed_fee`` is each position's fee to close where the venue counts it inside maintenance
    (it does not move with the mark). Every account settles in ``asset``.
    """

    instruments: InstrumentTable
    asset: str
    wallet: F64
    account_start: I64
    instrument: I64
    signed_size: F64
    entry_price: F64
    fixed_fee: F64
    leverage: F64

    @property
    def accounts(self) -> int:
        return len(self.wallet)

    @property
    def positions(self) -> int:
        return len(self.signed_size)


def build_book(
    instruments: InstrumentTable,
    wallet: npt.ArrayLike,
    account_start: npt.ArrayLike,
    instrument: npt.ArrayLike,
    signed_size: npt.ArrayLike,
    entry_price: npt.ArrayLike,
    leverage: npt.ArrayLike | None = None,
) -> Book:
    """Validate the columns and build a book (every refusal names its column and row)."""
    wallets = _floats(wallet, "wallet")
    starts = _ints(account_start, "account_start")
    rows = _ints(instrument, "instrument")
    sizes = _floats(signed_size, "signed_size")
    entries = _floats(entry_price, "entry_price")
    if len(starts) != len(wallets) + 1 or starts[0] != 0 or starts[-1] != len(sizes) or np.any(np.diff(starts) < 0):
        raise InputError("account_start", "must run from 0 to the number of positions, one more entry than accounts")
    if not len(rows) == len(sizes) == len(entries):
        raise InputError("instrument", "instrument, signed_size and entry_price must have one entry per position")
    _refuse(rows, (rows < 0) | (rows >= len(instruments.symbols)), "instrument", "is not an instrument index")
    _refuse(sizes, (sizes == 0) | ~np.isfinite(sizes), "signed_size", "must be a finite non-zero size")
    _refuse(entries, (entries <= 0) | ~np.isfinite(entries), "entry_price", "must be positive")
    _refuse(wallets, ~np.isfinite(wallets), "wallet", "must be finite")
    assets = {instruments.settlement[i] for i in np.unique(rows)}
    if len(assets) > 1:
        raise InputError("instrument", f"one settlement asset per book (single-asset pools), got {sorted(assets)}")
    default = float(instruments.rulebook.conventions.default_leverage)
    levers = np.full(len(sizes), default) if leverage is None else _floats(leverage, "leverage")
    _refuse(levers, levers <= 0, "leverage", "must be positive")
    return Book(
        instruments=instruments,
        asset=assets.pop() if assets else instruments.settlement[0],
        wallet=wallets,
        account_start=starts,
        instrument=rows,
        signed_size=sizes,
        entry_price=entries,
        fixed_fee=_close_fees(instruments, rows, sizes, entries, levers),
        leverage=levers,
    )


def _floats(values: npt.ArrayLike, name: str) -> F64:
    array: F64 = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InputError(name, "must be one-dimensional")
    return array


def _ints(values: npt.ArrayLike, name: str) -> I64:
    array: I64 = np.ascontiguousarray(values, dtype=np.int64)
    if array.ndim != 1:
        raise InputError(name, "must be one-dimensional")
    return array


def _refuse(values: npt.NDArray[np.generic], bad: npt.NDArray[np.bool_], name: str, reason: str) -> None:
    if np.any(bad):
        row = int(np.argmax(bad))
        raise InputError(f"{name}[{row}]", f"{reason}, got {values[row]}")


def _close_fees(instruments: InstrumentTable, rows: I64, sizes: F64, entries: F64, levers: F64) -> F64:
    """Bybit's fee to close at the bankruptcy price, per position, from the exact function."""
    if not instruments.rulebook.conventions.close_fee_in_maintenance:
        return np.zeros(len(sizes))
    fees = np.empty(len(sizes))
    for row, (index, size, entry, lever) in enumerate(zip(rows, sizes, entries, levers, strict=True)):
        instrument = instruments.rulebook.instrument(instruments.symbols[index])
        sign = 1 if size > 0 else -1
        exact = close_fee_at_bankruptcy(instrument, sign, Decimal(abs(size)), Decimal(entry), Decimal(lever))
        fees[row] = float(exact)
    return fees
