"""Double-entry ledger: every balance change is a transfer between two accounts of one asset.

Balances are derived from transfers, never set. A group of transfers (one engine event) is
posted all or nothing, and the invariants are checked after every group: per asset the
balances sum to zero (money is neither created nor destroyed), the insurance fund never goes
negative, and no user balance stays negative once the group is posted (a deficit must be
settled within the group, by the insurance fund or by deleveraging). Only the clearing
account, which stands for the world outside the venue, may be negative, and the wallet of an
account in a multi-asset pool: there a negative balance is a debt that the pool's other
collateral backs (counted in full, at the ask), until a sale of that collateral covers it.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from crossmargin.units import ZERO


class AccountKind(enum.Enum):
    """What a ledger account is for; one meaning each."""

    WALLET = "wallet"  # a user's cross wallet in one asset
    ISOLATED = "isolated"  # a user's isolated margin for one symbol
    STAKED = "staked"  # a user's locked collateral
    FEES = "fees"  # the venue's fee income
    INSURANCE = "insurance"  # the insurance fund
    FUNDING_POOL = "funding_pool"  # funding in transit between payers and receivers
    CLEARING = "clearing"  # the outside world and the market's other side

    # members are singletons: identity hashing is exact and runs in C (Enum's own hashes the name)
    __hash__ = object.__hash__


USER_KINDS = frozenset({AccountKind.WALLET, AccountKind.ISOLATED, AccountKind.STAKED})
VENUE = "venue"


class LedgerAccount(NamedTuple):
    """A ledger account: owner (a user account id, or ``venue``), kind, asset, and for isolated
    margin the symbol it backs.

    A named tuple rather than a dataclass: the ledger hashes and compares these several times
    per transfer, and a tuple does both in C.
    """

    owner: str
    kind: AccountKind
    asset: str
    symbol: str = ""

    @staticmethod
    def venue(kind: AccountKind, asset: str) -> LedgerAccount:
        return LedgerAccount(VENUE, kind, asset)


class Transfer(NamedTuple):
    """Move ``amount`` (> 0) of ``asset`` from ``debit`` to ``credit``, for ``reason``.

    The ledger refuses a transfer that breaks these rules when it is posted (see
    :meth:`Ledger.post`); a named tuple keeps building the thousands a funding round makes cheap.
    """

    debit: LedgerAccount
    credit: LedgerAccount
    amount: Decimal
    reason: str


def signed_transfer(
    counterparty: LedgerAccount, account: LedgerAccount, amount: Decimal, reason: str
) -> list[Transfer]:
    """A signed amount for ``account`` as transfers: a gain comes from ``counterparty``, a loss
    goes to it, zero moves nothing. Realised PnL is signed; a transfer's amount never is."""
    if amount > 0:
        return [Transfer(counterparty, account, amount, reason)]
    if amount < 0:
        return [Transfer(account, counterparty, -amount, reason)]
    return []


class LedgerError(AssertionError):
    """A posted group broke an invariant: a bug in the engine, never an operating error."""


class Ledger:
    """Balances as the sum of posted transfers, with the invariants checked per group."""

    def __init__(self) -> None:
        self._balances: dict[LedgerAccount, Decimal] = {}
        self._by_owner: dict[str, set[LedgerAccount]] = defaultdict(set)
        # owners whose wallets may carry a debt (multi-asset pools), and the wallets that do now
        self.debt_owners: set[str] = set()
        self.debts: set[LedgerAccount] = set()
        self.fresh_debts: set[LedgerAccount] = set()  # wallets posted to while in debt, not yet reviewed

    def balance(self, account: LedgerAccount) -> Decimal:
        return self._balances.get(account, ZERO)

    def owner_balances(self, owner: str) -> dict[LedgerAccount, Decimal]:
        """Every account of one owner with its balance (zero balances included)."""
        return dict(self.owner_items(owner))

    def owner_items(self, owner: str) -> list[tuple[LedgerAccount, Decimal]]:
        """Every account of one owner with its balance, without building a dict."""
        balances = self._balances
        return [(account, balances[account]) for account in self._by_owner.get(owner, ())]

    def balances(self) -> dict[LedgerAccount, Decimal]:
        """Every non-zero balance (a copy)."""
        return {account: value for account, value in self._balances.items() if value != 0}

    def post(self, transfers: Iterable[Transfer]) -> None:
        """Apply a group atomically: all transfers, then the invariants, or nothing at all."""
        balances = self._balances
        after: dict[LedgerAccount, Decimal] = {}
        for transfer in transfers:
            debit, credit, amount = transfer.debit, transfer.credit, transfer.amount
            if not amount > 0 or debit.asset != credit.asset or debit == credit:
                raise LedgerError(f"malformed transfer {transfer}: a positive amount between two accounts of one asset")
            after[debit] = (after[debit] if debit in after else balances.get(debit, ZERO)) - amount
            after[credit] = (after[credit] if credit in after else balances.get(credit, ZERO)) + amount
        self._check(after)  # raises before anything is applied
        by_owner = self._by_owner
        for account in after:
            if account not in balances:  # a first posting: index it under its owner
                by_owner[account.owner].add(account)
        balances.update(after)
        if self.debt_owners or self.debts:
            for account, value in after.items():
                if value < 0 and account.kind is AccountKind.WALLET:
                    self.debts.add(account)
                    self.fresh_debts.add(account)
                else:
                    self.debts.discard(account)

    def _check(self, after: dict[LedgerAccount, Decimal]) -> None:
        for account, value in after.items():
            if value >= 0:
                continue
            if account.kind is AccountKind.INSURANCE:
                raise LedgerError(f"the insurance fund in {account.asset} would go negative ({value})")
            if account.kind is AccountKind.WALLET and account.owner in self.debt_owners:
                continue  # a multi-asset pool's debt, backed by its other collateral
            if account.kind in USER_KINDS:
                raise LedgerError(f"{account} would stay negative ({value}); settle the deficit in the group")

    def check_conservation(self) -> None:
        """Per asset, balances sum to zero: every transfer debits exactly what it credits."""
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for account, value in self._balances.items():
            totals[account.asset] += value
        for asset, total in totals.items():
            if total != 0:
                raise LedgerError(f"{asset} does not balance: {total}")
