"""The account document an importer builds, checked by the same parser ``evaluate`` uses.

Importers fill an :class:`AccountDraft` from the responses they recognise: balances and
positions (the inputs), the venue's own figures (``reported``), and instrument parameters the
responses carry (``instruments``). :meth:`AccountDraft.document` renders it as the account
JSON of ``docs/interfaces.md``; :func:`checked` runs it through ``parse_account`` so an
importer can never emit a file that ``evaluate`` would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crossmargin.margin.account import AccountSnapshot, parse_account
from crossmargin.units import InputError


def plain(value: Decimal) -> str:
    """A decimal as JSON text: plain notation, every digit the venue printed kept."""
    return "0" if value.is_zero() else format(value, "f")


@dataclass
class DraftPosition:
    """One position as the venue holds it, with the figures the venue reported for it."""

    symbol: str
    side: str
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    margin_mode: str = "cross"
    leverage: Decimal | None = None
    position_side: str = "both"
    isolated_margin: Decimal | None = None
    reported: dict[str, Decimal | None] = field(default_factory=dict)
    where: str = ""  # the response field it came from, for error messages

    def key(self) -> tuple[str, str, str]:
        return (self.symbol, self.position_side, self.margin_mode)

    def document(self) -> dict[str, Any]:
        if self.mark_price is None:
            raise InputError(self.where or self.symbol, f"{self.symbol}: no mark price in the responses given")
        entry: dict[str, Any] = {
            "symbol": self.symbol,
            "side": self.side,
            "size": plain(self.size),
            "entry_price": plain(self.entry_price),
            "mark_price": plain(self.mark_price),
            "margin_mode": self.margin_mode,
        }
        if self.leverage is not None:
            entry["leverage"] = plain(self.leverage)
        if self.position_side != "both":
            entry["position_side"] = self.position_side
        if self.margin_mode == "isolated":
            if self.isolated_margin is None:
                raise InputError(self.where or self.symbol, f"{self.symbol}: isolated position without its margin")
            entry["isolated_margin"] = plain(self.isolated_margin)
        return entry


@dataclass
class AccountDraft:
    """An account under construction from one venue's responses."""

    venue: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    positions: list[DraftPosition] = field(default_factory=list)
    asset_mode: str | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)
    collateral: list[str] | None = None
    pools: dict[str, dict[str, Decimal | None]] = field(default_factory=dict)
    sources: list[dict[str, str | None]] = field(default_factory=list)
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_interest: dict[str, Decimal] = field(default_factory=dict)

    def source(self, endpoint: str, time: str | None) -> None:
        self.sources.append({"endpoint": endpoint, "time": time})

    def report_pool(self, asset: str, figures: dict[str, Decimal | None]) -> None:
        self.pools.setdefault(asset, {}).update(figures)

    def document(self) -> dict[str, Any]:
        """The account JSON (numbers as decimal strings, the venue's figures under ``reported``)."""
        document: dict[str, Any] = {"venue": self.venue}
        if self.asset_mode is not None:
            document["asset_mode"] = self.asset_mode
        document["balances"] = {asset: plain(value) for asset, value in sorted(self.balances.items())}
        if self.collateral is not None:
            document["collateral"] = sorted(self.collateral)
        if self.prices:
            document["prices"] = {asset: plain(value) for asset, value in sorted(self.prices.items())}
        if self.open_interest:
            document["open_interest"] = {s: plain(v) for s, v in sorted(self.open_interest.items())}
        document["positions"] = [p.document() for p in self.positions]
        if self.instruments:
            document["instruments"] = [{"symbol": s, **spec} for s, spec in sorted(self.instruments.items())]
        document["reported"] = self._reported()
        return document

    def _reported(self) -> dict[str, Any]:
        def figures(values: dict[str, Decimal | None]) -> dict[str, str | None]:
            return {name: None if value is None else plain(value) for name, value in values.items()}

        positions = []
        for p in self.positions:
            if p.reported:
                keys = {"symbol": p.symbol, "position_side": p.position_side, "margin_mode": p.margin_mode}
                positions.append({**keys, **figures(p.reported)})
        return {
            "sources": self.sources,
            "pools": [{"settlement_asset": a, **figures(v)} for a, v in sorted(self.pools.items()) if v],
            "positions": positions,
        }


def checked(document: dict[str, Any], origin: str) -> AccountSnapshot:
    """Parse an imported document as ``evaluate`` will; an error names the importer's output."""
    try:
        return parse_account(document)
    except InputError as error:
        raise InputError(f"{origin} (imported account) {error.field}", error.problem) from None
