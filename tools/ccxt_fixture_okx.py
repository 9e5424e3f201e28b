#!/usr/bin/env python3
"""Rebuild the recorded ccxt fixture of OKX for ``crossmargin venues import-ccxt``.

Runs offline. ccxt's ``okx`` exchange class is instantiated and the two REST
entry points behind ``fetch_markets()`` and ``fetch_market_leverage_tiers()``
(``publicGetPublicInstruments`` and ``publicGetPublicPositionTiers``) are
replaced on the instance by functions that answer with recorded OKX responses
stored under ``tests/fixtures/ccxt/raw/okx/``. Market parsing, tier parsing and
symbol mapping are ccxt's own code.

ccxt's ``okx`` class has no ``fetch_leverage_tiers()`` (its ``has`` entry is
False): tiers are fetched one market at a time, by instrument family, with
``fetch_market_leverage_tiers(symbol)``. The output file is the same shape as
``fetch_leverage_tiers()`` gives on other venues: symbol -> list of tiers.

Usage (from the repository root)::

    pip install ccxt
    python tools/ccxt_fixture_okx.py

Outputs:
    tests/fixtures/ccxt/okx_markets.json   list of market dicts (swap markets)
    tests/fixtures/ccxt/okx_tiers.json     symbol -> list of tier dicts
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccxt_io import FIXTURE_DIR, run_recorder
from ccxt_io import load_json as _load

RAW_DIR = FIXTURE_DIR / "raw" / "okx"

INSTRUMENTS = "public_instruments_SWAP.json"  # GET /api/v5/public/instruments?instType=SWAP
POSITION_TIERS = "public_position-tiers_SWAP.json"  # instFamily -> GET /api/v5/public/position-tiers answer

EMPTY = {"code": "0", "msg": "", "data": []}


def build(raw_dir: Path):
    """Return (markets, tiers, ccxt_version) parsed by ccxt from the raw files."""
    import ccxt  # imported here so --help works without ccxt installed

    instruments = _load(raw_dir / INSTRUMENTS)
    tiers_by_family = _load(raw_dir / POSITION_TIERS)

    exchange = ccxt.okx({"options": {"fetchMarkets": {"types": ["swap"]}}})

    def instruments_endpoint(params=None, context=None):
        inst_type = (params or {}).get("instType")
        return instruments if inst_type == "SWAP" else EMPTY

    def position_tiers_endpoint(params=None, context=None):
        params = params or {}
        if params.get("instType") != "SWAP":
            return EMPTY
        return tiers_by_family.get(params.get("instFamily"), EMPTY)

    # Replace the two HTTP entry points with the recorded responses.
    exchange.publicGetPublicInstruments = instruments_endpoint
    exchange.publicGetPublicPositionTiers = position_tiers_endpoint

    markets = exchange.fetch_markets()
    exchange.set_markets(markets)

    tiers = {}
    for market in markets:
        family = market["info"].get("instFamily")
        if family not in tiers_by_family:
            continue  # no recorded tier table for this family
        tiers[market["symbol"]] = exchange.fetch_market_leverage_tiers(market["symbol"], {"marginMode": "cross"})
    return markets, tiers, ccxt.__version__


def main(argv=None) -> int:
    return run_recorder(build, "okx", RAW_DIR, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
