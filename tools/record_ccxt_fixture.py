#!/usr/bin/env python3
"""Rebuild the recorded ccxt fixture for ``crossmargin venues import-ccxt``.

Runs offline. ccxt's ``binanceusdm`` exchange class is instantiated and its two
REST entry points used by ``fetch_markets()`` and ``fetch_leverage_tiers()``
are replaced on the instance by functions that return recorded Binance
responses stored under ``tests/fixtures/ccxt/raw/``.  Everything after that
(market parsing, tier parsing, symbol mapping) is ccxt's own code, so the two
output files are exactly what ccxt returns for those responses.

Usage (from the repository root)::

    pip install ccxt
    python tools/record_ccxt_fixture.py

Outputs:
    tests/fixtures/ccxt/binanceusdm_markets.json   list of market dicts
    tests/fixtures/ccxt/binanceusdm_tiers.json     symbol -> list of tier dicts
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccxt_io import FIXTURE_DIR, run_recorder
from ccxt_io import load_json as _load

RAW_DIR = FIXTURE_DIR / "raw"

EXCHANGE_INFO = "fapi_v1_exchangeInfo.json"  # GET /fapi/v1/exchangeInfo
LEVERAGE_BRACKET = "fapi_v1_leverageBracket.json"  # GET /fapi/v1/leverageBracket


def build(raw_dir: Path):
    """Return (markets, tiers, ccxt_version) parsed by ccxt from the raw files."""
    import ccxt  # imported here so --help works without ccxt installed

    exchange_info = _load(raw_dir / EXCHANGE_INFO)
    brackets = _load(raw_dir / LEVERAGE_BRACKET)

    exchange = ccxt.binanceusdm()

    # Replace the two HTTP entry points with the recorded responses.
    def exchange_info_endpoint(params=None, context=None):
        return exchange_info

    def leverage_bracket_endpoint(params=None, context=None):
        return brackets

    exchange.fapiPublicGetExchangeInfo = exchange_info_endpoint
    exchange.fapiPrivateGetLeverageBracket = leverage_bracket_endpoint

    markets = exchange.fetch_markets()
    exchange.set_markets(markets)

    symbols = [market["symbol"] for market in markets]
    tiers = exchange.fetch_leverage_tiers(symbols)
    return markets, tiers, ccxt.__version__


def main(argv=None) -> int:
    return run_recorder(build, "binanceusdm", RAW_DIR, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
