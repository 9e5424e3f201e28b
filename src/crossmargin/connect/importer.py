"""``import_account``: one venue's raw responses in, one account document out.

Each file is one response body exactly as the venue's REST endpoint returns it; the importer
of the venue recognises what each body is by its shape (never by its file name) and refuses,
naming the file, one that is none of the responses it knows. The result is the account JSON
that ``crossmargin evaluate`` reads, with the venue's own figures under ``reported`` and the
instrument parameters the responses carry under ``instruments``; it is parsed once more
exactly as ``evaluate`` will parse it before it is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from crossmargin.connect import binance, bybit, ccxt_dumps, dydx, hyperliquid, okx
from crossmargin.connect.draft import AccountDraft, checked
from crossmargin.connect.responses import Body, article, read_json_file
from crossmargin.rules import Rulebook, load_rulebook
from crossmargin.units import InputError


class VenueImporter(NamedTuple):
    """How one venue's responses are recognised and turned into an account."""

    classify: Callable[[Body], str | None]
    build: Callable[[str, list[tuple[str, Body]], Rulebook], AccountDraft]
    known: str  # the responses it knows, for the refusal of an unknown one


IMPORTERS: dict[str, VenueImporter] = {
    "binance-usdm": VenueImporter(binance.classify, binance.build, binance.KNOWN),
    "binance-coinm": VenueImporter(
        binance.classify,
        binance.build,
        "/dapi/v1/account, /dapi/v1/positionRisk, /dapi/v2/leverageBracket, /dapi/v1/premiumIndex",
    ),
    "bybit": VenueImporter(bybit.classify, bybit.build, bybit.KNOWN),
    "okx": VenueImporter(okx.classify, okx.build, okx.KNOWN),
    "hyperliquid": VenueImporter(hyperliquid.classify, hyperliquid.build, hyperliquid.KNOWN),
    "dydx": VenueImporter(dydx.classify, dydx.build, dydx.KNOWN),
}
VENUES = tuple(IMPORTERS)


def _unknown_symbols(draft: AccountDraft, rulebook: Rulebook) -> None:
    """A symbol the rulebook does not list must be defined by the responses, or refused here."""
    for position in draft.positions:
        if rulebook.find_instrument(position.symbol) is None and position.symbol not in draft.instruments:
            raise InputError(
                position.where or "positions",
                f"unknown symbol {position.symbol!r} for venue {rulebook.venue}, and the responses carry no"
                " brackets or margin fractions to define it",
            )


def _classified(paths: Sequence[Path], importer: VenueImporter, venue: str) -> list[tuple[str, Body]]:
    bodies = []
    for path in paths:
        body = Body(read_json_file(path), str(path))
        kind = importer.classify(body)
        if kind is None:
            raise InputError(
                str(path), f"is not {article(venue)} {venue} response this importer knows ({importer.known})"
            )
        bodies.append((kind, body))
    return bodies


def import_account(venue: str, paths: Sequence[Path], *, exchange: str | None = None) -> dict[str, Any]:
    """The account document of ``docs/interfaces.md`` from raw responses of ``venue``.

    ``venue`` is a venue name (``binance-usdm`` ... ``dydx``) or ``ccxt``, which takes JSON
    dumps of ccxt's unified calls for ``exchange`` (binanceusdm, binancecoinm, bybit, okx or
    hyperliquid).
    """
    if not paths:
        raise InputError("FILE", "give at least one response file")
    if venue == "ccxt":
        if exchange is None:
            raise InputError("--exchange", f"is required with ccxt (one of {', '.join(ccxt_dumps.EXCHANGES)})")
        draft, rulebook = ccxt_dumps.build(exchange, [(Body(read_json_file(p), str(p))) for p in paths])
    else:
        if exchange is not None:
            raise InputError("--exchange", "applies only to the ccxt importer")
        importer = IMPORTERS.get(venue)
        if importer is None:
            raise InputError("VENUE", f"unknown venue {venue!r} (one of {', '.join(VENUES)}, or ccxt)")
        rulebook = load_rulebook(venue)
        draft = importer.build(venue, _classified(paths, importer, venue), rulebook)
    _unknown_symbols(draft, rulebook)
    document = draft.document()
    checked(document, ", ".join(str(p) for p in paths))
    return document
