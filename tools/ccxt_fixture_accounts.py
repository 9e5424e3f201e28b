#!/usr/bin/env python3
"""Rebuild the ccxt account dumps used by the ccxt importer's tests, offline.

ccxt's own exchange classes parse recorded raw venue responses: markets from the recorded
market responses of ``tests/fixtures/ccxt/raw/``, positions and balances from the recorded
account responses of ``tests/fixtures/connect/``. The HTTP entry points ccxt would call are
replaced on the instance by functions that answer with those files (any other request
raises), so nothing reaches the network and every number in the output is ccxt's own
parsing: floats exactly as ccxt produces them, written by ``json.dump``.

Usage (from the repository root)::

    pip install ccxt
    python tools/ccxt_fixture_accounts.py

Outputs, under ``tests/fixtures/connect/ccxt/``:
    binanceusdm_positions.json     fetch_positions() of the Binance isolated hedge legs
    hyperliquid_positions.json     fetch_positions() of the Hyperliquid documentation account
    hyperliquid_balance.json       fetch_balance() of the same account
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccxt_io import FIXTURE_DIR, ROOT, dump_json, load_json

ACCOUNTS = ROOT / "tests" / "fixtures" / "connect"
OUT_DIR = ACCOUNTS / "ccxt"
USER = "0x0000000000000000000000000000000000000001"


def _refuse(name: str):
    def endpoint(params=None, context=None):
        raise RuntimeError(f"no recorded response for {name} {params!r}")

    return endpoint


def binanceusdm() -> tuple[object, str]:
    import ccxt

    exchange = ccxt.binanceusdm({"apiKey": "recorded", "secret": "recorded"})
    exchange.fapiPublicGetExchangeInfo = lambda params=None, context=None: load_json(
        FIXTURE_DIR / "raw" / "fapi_v1_exchangeInfo.json"
    )
    exchange.set_markets(exchange.fetch_markets())
    brackets = load_json(FIXTURE_DIR / "raw" / "fapi_v1_leverageBracket.json")
    exchange.fapiPrivateGetLeverageBracket = lambda params=None, context=None: brackets
    rows = load_json(ACCOUNTS / "binance-usdm" / "positionRisk_v2_isolated_hedge.json")
    exchange.fapiPrivateV2GetPositionRisk = lambda params=None, context=None: rows
    exchange.fapiPrivateV3GetPositionRisk = _refuse("GET /fapi/v3/positionRisk")
    exchange.options["fetchPositions"] = "positionRisk"
    exchange.options.setdefault("fetchPositionsRisk", {})
    positions = exchange.fetch_positions_risk(None, {"useV2": True})
    return positions, ccxt.__version__


def hyperliquid() -> tuple[object, object, str]:
    import ccxt

    recorded = {
        "metaAndAssetCtxs": load_json(FIXTURE_DIR / "raw" / "hyperliquid" / "info_metaAndAssetCtxs.json"),
        "clearinghouseState": load_json(ACCOUNTS / "hyperliquid" / "clearinghouseState_isolated.json"),
    }
    exchange = ccxt.hyperliquid({"walletAddress": USER})
    exchange.options["fetchMarkets"] = dict(exchange.options.get("fetchMarkets", {}), types=["swap"])

    def info(params=None, context=None):
        kind = (params or {}).get("type")
        if kind not in recorded or (params or {}).get("dex"):
            raise RuntimeError(f"no recorded response for POST /info {params!r}")
        return recorded[kind]

    exchange.publicPostInfo = info
    exchange.public_post_info = info
    exchange.set_markets(exchange.fetch_markets())
    positions = exchange.fetch_positions(None, {"user": USER})
    balance = exchange.fetch_balance({"user": USER, "type": "swap"})
    return positions, balance, ccxt.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    positions, version = binanceusdm()
    dump_json(positions, args.out_dir / "binanceusdm_positions.json")
    hl_positions, hl_balance, _ = hyperliquid()
    dump_json(hl_positions, args.out_dir / "hyperliquid_positions.json")
    dump_json(hl_balance, args.out_dir / "hyperliquid_balance.json")
    print(f"ccxt {version}: {len(positions)} Binance and {len(hl_positions)} Hyperliquid positions written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
