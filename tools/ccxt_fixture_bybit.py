#!/usr/bin/env python3
"""Rebuild the recorded ccxt fixture for Bybit (``crossmargin venues import-ccxt``).

Runs offline. ``ccxt.bybit()`` is instantiated and the two public REST entry
points that ``fetch_markets()`` and ``fetch_leverage_tiers()`` reach are
replaced on the instance by functions that serve recorded Bybit responses from
``tests/fixtures/ccxt/raw/bybit/``:

* ``publicGetV5MarketInstrumentsInfo`` (GET /v5/market/instruments-info),
  answered per ``category`` (``linear`` / ``inverse``); the extra
  ``status=PreLaunch`` request ccxt makes is answered with an empty list;
* ``publicGetV5MarketRiskLimit`` (GET /v5/market/risk-limit), ``linear`` only.

Only the linear and inverse market types are loaded (``options['fetchMarkets']``),
so ccxt makes no spot or option request. Market and tier parsing is ccxt's own.

Usage (from the repository root)::

    pip install ccxt
    python tools/ccxt_fixture_bybit.py

Outputs:
    tests/fixtures/ccxt/bybit_markets.json   list of market dicts
    tests/fixtures/ccxt/bybit_tiers.json     symbol -> list of tier dicts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ccxt_io import FIXTURE_DIR, run_recorder
from ccxt_io import load_json as _load

RAW_DIR = FIXTURE_DIR / "raw" / "bybit"

INSTRUMENTS = {  # GET /v5/market/instruments-info?category=...
    "linear": "v5_market_instruments_info_linear.json",
    "inverse": "v5_market_instruments_info_inverse.json",
}
RISK_LIMIT = {  # GET /v5/market/risk-limit?category=...
    "linear": "v5_market_risk_limit_linear.json",
}


def _empty(category: str) -> dict:
    return {"result": {"category": category, "list": []}}


def build(raw_dir: Path):
    """Return (markets, tiers, ccxt_version) parsed by ccxt from the raw files."""
    import ccxt  # imported here so --help works without ccxt installed

    instruments = {category: _load(raw_dir / name) for category, name in INSTRUMENTS.items()}
    risk_limits = {category: _load(raw_dir / name) for category, name in RISK_LIMIT.items()}

    exchange = ccxt.bybit({"options": {"fetchMarkets": {"types": ["linear", "inverse"]}}})

    def instruments_info(params=None, context=None):
        params = params or {}
        category = params.get("category")
        if params.get("status") == "PreLaunch" or category not in instruments:
            return _empty(category)
        # a fresh copy each call: ccxt keeps the objects as each market's ``info``
        return json.loads(json.dumps(instruments[category]))

    def risk_limit(params=None, context=None):
        params = params or {}
        category = params.get("category")
        if category not in risk_limits:
            return _empty(category)
        return json.loads(json.dumps(risk_limits[category]))

    exchange.publicGetV5MarketInstrumentsInfo = instruments_info
    exchange.publicGetV5MarketRiskLimit = risk_limit

    markets = exchange.fetch_markets()
    exchange.set_markets(markets)

    linear_symbols = [market["symbol"] for market in markets if market["linear"]]
    tiers = exchange.fetch_leverage_tiers(linear_symbols)
    return markets, tiers, ccxt.__version__


def main(argv=None) -> int:
    return run_recorder(build, "bybit", RAW_DIR, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
