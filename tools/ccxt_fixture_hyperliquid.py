#!/usr/bin/env python3
"""Rebuild the recorded ccxt fixture for Hyperliquid perpetuals.

Runs offline. ccxt's ``hyperliquid`` exchange class is instantiated with market
loading restricted to the main perpetual dex (``swap``; spot and HIP-3 dexes are
skipped), and its ``POST /info`` entry point (``publicPostInfo``) is replaced on
the instance by a function that answers ``{"type": "metaAndAssetCtxs"}`` with the
recorded response stored under ``tests/fixtures/ccxt/raw/hyperliquid/``. Any other
request type is refused, so nothing reaches the network. Market parsing is
ccxt's own code.

ccxt has no ``fetch_leverage_tiers()`` for Hyperliquid (``has['fetchLeverageTiers']``
is false), so only the markets are written. The margin tables are in the raw
response (``marginTables``) for readers that want them.

Usage (from the repository root)::

    pip install ccxt
    python tools/ccxt_fixture_hyperliquid.py

Output:
    tests/fixtures/ccxt/hyperliquid_markets.json   list of market dicts
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccxt_io import FIXTURE_DIR, run_recorder
from ccxt_io import load_json as _load

RAW_DIR = FIXTURE_DIR / "raw" / "hyperliquid"

META_AND_ASSET_CTXS = "info_metaAndAssetCtxs.json"  # POST /info {"type": "metaAndAssetCtxs"}


def build(raw_dir: Path):
    """Return (markets, tiers_supported, ccxt_version) parsed by ccxt from the raw file."""
    import ccxt  # imported here so --help works without ccxt installed

    recorded = {"metaAndAssetCtxs": _load(raw_dir / META_AND_ASSET_CTXS)}

    exchange = ccxt.hyperliquid()
    # Main perpetual dex only: no spot markets, no builder-deployed (HIP-3) dexes.
    exchange.options["fetchMarkets"] = dict(exchange.options.get("fetchMarkets", {}), types=["swap"])

    def info_endpoint(params=None, context=None):
        request_type = (params or {}).get("type")
        if request_type not in recorded or (params or {}).get("dex"):
            raise RuntimeError(f"no recorded response for POST /info {params!r}")
        return recorded[request_type]

    exchange.publicPostInfo = info_endpoint
    exchange.public_post_info = info_endpoint

    markets = exchange.fetch_markets()
    # ccxt offers no leverage-tier call for Hyperliquid: no tiers to record (False)
    return markets, bool(exchange.has.get("fetchLeverageTiers")), ccxt.__version__


def main(argv=None) -> int:
    return run_recorder(build, "hyperliquid", RAW_DIR, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
