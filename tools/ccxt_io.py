"""Reading recorded raw responses and writing ccxt's parsed output, for the fixture recorders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def dump_json(obj: Any, path: Path) -> None:
    """Write ccxt output as the fixtures store it: ``default=str``, indent 1, final newline."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump(obj, handle, default=str, indent=1)
        handle.write("\n")


ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "ccxt"


def run_recorder(build: Any, exchange: str, raw_dir: Path, doc: str, argv: list[str] | None = None) -> int:
    """Command line shared by the recorders: parse recorded responses with ccxt, write the fixture.

    ``build(raw_dir)`` returns ``(markets, tiers, ccxt_version)``; ``tiers`` is ``False`` where
    ccxt has no leverage-tier call for the venue, and then only the markets are written.
    """
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=raw_dir)
    parser.add_argument("--out-dir", type=Path, default=FIXTURE_DIR)
    args = parser.parse_args(argv)
    markets, tiers, version = build(args.raw_dir)
    dump_json(markets, args.out_dir / f"{exchange}_markets.json")
    if tiers is False:
        print(f"ccxt {version}: {len(markets)} markets (ccxt has no leverage-tier call here: no tiers file)")
        return 0
    dump_json(tiers, args.out_dir / f"{exchange}_tiers.json")
    count = sum(len(rows) for rows in tiers.values())
    print(f"ccxt {version}: {len(markets)} markets, {count} tiers over {len(tiers)} symbols")
    return 0
