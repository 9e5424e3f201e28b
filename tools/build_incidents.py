"""Build the incident library (run by hand): eight crashes as stress scenario files.

Where the project's offline market data covers the day (``../shared/data``, see its MANIFEST.md),
the path is real: hourly (or 5-minute) closes of Binance perpetuals, and spot for LUNA, UST and FTT,
as moves relative to the first close. The rest is the documented figures of
the incidents' public reports (named in each file), and each file says which is which. Output:
``src/crossmargin/risk/incidents/*.yaml``.

    python tools/build_incidents.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

OUT = Path(__file__).resolve().parents[1] / "src" / "crossmargin" / "risk" / "incidents"
MAJORS = ["BTC", "ETH", "XRP", "LTC", "ADA"]
REPORTS = {
    "march-2020": "BitMEX's public post-mortem of the DDoS of 13 March 2020 and its insurance fund report; "
    "press coverage of 12-13 March 2020 (XBTUSD $7,353 -> $3,596)",
    "may-2021": "Binance's statement on the futures disruption of 19 May 2021; Bybt liquidation totals of that day",
    "luna-2022": "Terraform Labs / Chainlink LUNA-USD feed at its minAnswer; Venus Protocol and Blizz post-mortems, "
    "May 2022",
    "mango-2022": "Mango DAO governance proposals of October 2022; CFTC and SEC complaints against the trader, "
    "January 2023",
    "ftx-2022": "CoinDesk, 2 November 2022; Binance's FTT announcement, 6 November 2022; testimony in "
    "United States v. Bankman-Fried, October 2023",
    "hyperliquid-eth-whale-2025": "Hyperliquid's announcement of 12 March 2025 (HLP took 160,234 ETH at $1,915, "
    "lost ~$4M) and its leverage changes of 15 March 2025",
    "jelly-2025": "Hyperliquid validator vote to delist JELLY and settle at $0.0095, 26 March 2025",
    "binance-october-2025": "Binance announcements of 11-12 October 2025 (compensation of $283M; wBETH, BNSOL "
    "and USDe index changes)",
}


class Data:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.used: dict[str, str] = {}

    def closes(self, folder: str, name: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        path = self.root / folder / name
        for source in json.loads(pq.read_schema(path).metadata[b"provenance"]):
            self.used[f"{folder}/{name}"] = (
                f"{folder}/{name}: `{source.get('repo')}` `{source.get('path')}` at `{source.get('commit')}`"
            )
        table = pq.read_table(path, columns=["timestamp", "close"]).to_pylist()
        return [(row["timestamp"], row["close"]) for row in table if start <= row["timestamp"] <= end]

    def path(
        self, sources: dict[str, tuple[str, str]], start: datetime, end: datetime
    ) -> dict[datetime, dict[str, float]]:
        """asset -> close at each timestamp, for every (folder, file) source."""
        by_time: dict[datetime, dict[str, float]] = {}
        for asset, (folder, name) in sources.items():
            for when, close in self.closes(folder, name, start, end):
                by_time.setdefault(when, {})[asset] = close
        return dict(sorted(by_time.items()))


def _text(value: float, places: int = 6) -> str:
    return format(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places)).normalize(), "f")


def moves_from(path: dict[datetime, dict[str, float]], start: datetime) -> list[dict[str, Any]]:
    """One step per timestamp after ``start``: each asset's move from its close at ``start``."""
    base = path[start]
    steps = []
    for when, closes in path.items():
        if when <= start:
            continue
        hours = (when - start) / timedelta(hours=1)
        moves = {a: _text(closes[a] / base[a] - 1) for a in sorted(closes) if a in base}
        steps.append({"hours": _text(hours, 4), "moves": moves})
    return steps


def perp_1h(assets: list[str]) -> dict[str, tuple[str, str]]:
    return {a: ("binance_usdm_perp_1h", f"{a}USDT.parquet") for a in assets}


def march_2020(data: Data) -> dict[str, Any]:
    start, end = datetime(2020, 3, 12, tzinfo=UTC), datetime(2020, 3, 14, tzinfo=UTC)
    steps = moves_from(data.path(perp_1h(MAJORS), start, end), start)
    for step in steps:
        hours = Decimal(step["hours"])
        if 10 <= hours <= 30:  # the two legs, into books 5-10x thinner
            step["depth"] = "0.15"
        if 26 <= hours <= 27:  # the DDoS at 02:16 UTC on the 13th: ~25 minutes of client blackout
            step["blackout"] = True
    return {
        "name": "march-2020",
        "description": "BitMEX Black Thursday, 12-13 March 2020: about -50 % in two legs within ~16 h, books "
        "thinned 5-10x, a 25-minute client blackout while liquidations ran.",
        "sources": [],
        "data": "real: hourly Binance perpetual closes from 2020-03-12 00:00 UTC. Documented: the book depth "
        "(0.15 of normal from 10:00 on the 12th to 06:00 on the 13th) and the blackout (02:00-03:00 on the 13th).",
        "steps": steps,
    }


def may_2021(data: Data) -> dict[str, Any]:
    start, end = datetime(2021, 5, 19, tzinfo=UTC), datetime(2021, 5, 20, tzinfo=UTC)
    path = data.path(perp_1h(MAJORS), start, end)
    steps = moves_from(path, start)
    worst = min(
        range(1, len(steps)), key=lambda n: float(steps[n]["moves"]["BTC"]) - float(steps[n - 1]["moves"]["BTC"])
    )
    for step in steps[worst : worst + 2]:  # the steepest leg: Binance Futures froze for its users
        step["blackout"] = True
    return {
        "name": "may-2021",
        "description": "19 May 2021: BTC about -30 % intraday, ETH -40 %, with a client blackout on the steepest "
        "leg while the venue kept liquidating.",
        "sources": [],
        "data": "real: hourly Binance perpetual closes of 19 May 2021. Documented: the blackout, put on the two "
        "hours around BTC's steepest hourly fall.",
        "steps": steps,
    }


def luna_2022(data: Data) -> dict[str, Any]:
    start, end = datetime(2022, 5, 5, tzinfo=UTC), datetime(2022, 5, 13, tzinfo=UTC)
    sources = perp_1h(MAJORS) | {"LUNA": ("binance_spot_1h", "LUNAUSDT.parquet")}
    path = data.path(sources, start, end)
    ust = dict(data.closes("binance_spot_1h", "USTUSDT.parquet", start, end))
    steps = moves_from(path, start)
    floor = _text(0.107 / path[start]["LUNA"] - 1)  # Chainlink's LUNA minAnswer, as a move from the start
    for when, step in zip([w for w in path if w > start], steps, strict=True):
        if when in ust:
            step["prices"] = {"UST": _text(ust[when])}
        luna = path[when].get("LUNA")
        if luna is not None and luna < 0.107:  # the feed sat at its minAnswer while the market went on down
            step["clamp"] = {"LUNA": floor}
    return {
        "name": "luna-2022",
        "description": "Terra, 5-13 May 2022: UST lost its peg over days while LUNA fell 99.99 %; LUNA's oracle "
        "sat at its floor (minAnswer ~0.107) while the market traded far below.",
        "sources": [],
        "data": "real: hourly closes (LUNA and UST spot, majors perpetual). Documented: LUNA's oracle clamped at "
        "its 0.107 floor from the first hour LUNA trades below it.",
        "steps": steps,
    }


def ftx_2022(data: Data) -> dict[str, Any]:
    start, end = datetime(2022, 11, 6, tzinfo=UTC), datetime(2022, 11, 13, tzinfo=UTC)
    sources = perp_1h([*MAJORS, "SOL"]) | {"FTT": ("binance_spot_1h", "FTTUSDT.parquet")}
    return {
        "name": "ftx-2022",
        "description": "FTX, 6-13 November 2022: FTT -80 % in 24 h and -90 % in a week (exchange-token "
        "collateral, wrong-way risk), SOL with it, a run on withdrawals.",
        "sources": [],
        "data": "real: hourly closes, FTT spot and perpetuals for the rest.",
        "steps": moves_from(data.path(sources, start, end), start),
    }


def eth_whale_2025(data: Data) -> dict[str, Any]:
    start, end = datetime(2025, 3, 12, tzinfo=UTC), datetime(2025, 3, 13, tzinfo=UTC)
    return {
        "name": "hyperliquid-eth-whale-2025",
        "description": "Hyperliquid, 12 March 2025: a 50x ETH long of ~160k ETH withdrew its unrealised profit, "
        "then a 1-2 % drift liquidated it; HLP took 160,234 ETH at $1,915 and lost ~$4M.",
        "sources": [],
        "data": "real: hourly ETH and BTC closes on Binance that day (the liquidation happened on Hyperliquid).",
        "steps": moves_from(data.path(perp_1h(["ETH", "BTC"]), start, end), start),
    }


def mango_2022() -> dict[str, Any]:
    start, peak, back = 0.0382, 0.54, 0.02  # documented: peak $0.54-0.91, back to ~$0.02
    steps = [{"hours": _text(m / 60, 4), "moves": {"MNGO": _text((start + (peak - start) * m / 10) / start - 1)}}
             for m in range(1, 11)]  # fmt: skip
    steps.append({"hours": "0.6667", "moves": {"MNGO": _text(peak / start - 1)}, "note": "borrowing and withdrawals"})
    steps.append({"hours": "1", "moves": {"MNGO": _text(back / start - 1)}})
    return {
        "name": "mango-2022",
        "description": "Mango Markets, 11 October 2022: MNGO pumped from $0.0382 to $0.54+ in ten minutes, its "
        "unrealised profit borrowed against and withdrawn, then back to ~$0.02.",
        "sources": [],
        "data": "documented figures only (no MNGO data): a linear ramp to the lower reported peak, $0.54, held "
        "for the ~40 minutes of withdrawals, then $0.02.",
        "steps": steps,
    }


def jelly_2025() -> dict[str, Any]:
    moves = [("0.25", "1"), ("0.5", "2.5"), ("1", "4"), ("1.5", "4"), ("2", "0")]
    return {
        "name": "jelly-2025",
        "description": "Hyperliquid JELLY, 26 March 2025: a $4M short pushed into the liquidator vault, JELLY +400 % "
        "within an hour on-chain, then delisted and settled at the start price $0.0095.",
        "sources": [],
        "data": "documented figures only: +100 %, +250 %, +400 % within the hour, then settlement at $0.0095.",
        "steps": [{"hours": h, "moves": {"JELLY": m}} for h, m in moves],
    }


def october_2025(data: Data) -> dict[str, Any]:
    start, end = datetime(2025, 10, 10, 20, tzinfo=UTC), datetime(2025, 10, 11, 2, tzinfo=UTC)
    assets = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"]
    sources = {a: ("binance_usdm_perp_5m_windows", f"{a}USDT_2025-10-06_2025-10-18.parquet") for a in assets}
    path = data.path(sources, start, end)
    steps = moves_from(path, start)
    window = (datetime(2025, 10, 10, 21, 36, tzinfo=UTC), datetime(2025, 10, 10, 22, 16, tzinfo=UTC))
    for when, step in zip([w for w in path if w > start], steps, strict=True):
        eth, sol = path[when]["ETH"], path[when]["SOL"]
        if window[0] <= when <= window[1]:  # Binance's own books, where the collateral was priced
            step["prices"] = {"WBETH": "430", "USDE": "0.65", "BNSOL": "34.9"}
        else:  # elsewhere they held their conversion values
            step["prices"] = {"WBETH": _text(eth, 2), "USDE": "1", "BNSOL": _text(sol, 2)}
    return {
        "name": "binance-october-2025",
        "description": "Binance, 10-11 October 2025: BTC -14-17 %, ETH -20 %, SOL -38 %; for 40 minutes "
        "(21:36-22:16 UTC) wBETH, USDe and BNSOL collapsed on Binance's own books, which priced them as collateral.",
        "sources": [],
        "data": "real: 5-minute perpetual closes, 20:00-02:00 UTC. Documented: the own-book prices of wBETH ($430), "
        "USDe ($0.65) and BNSOL ($34.90) from 21:36 to 22:16; outside that window they hold their conversion values, "
        "taken as ETH's, $1 and SOL's price (the exact wBETH and BNSOL exchange rates of the day were not found).",
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    data = Data(Path(args.data))
    builders = [march_2020, may_2021, luna_2022, mango_2022, ftx_2022, eth_whale_2025, jelly_2025, october_2025]
    incidents = []
    for build in builders:
        data.used = {}
        incident = build(data) if build.__code__.co_argcount else build()  # type: ignore[call-arg]
        incident["data_files"] = sorted(data.used.values())
        incidents.append(incident)
    OUT.mkdir(parents=True, exist_ok=True)
    for incident in incidents:
        incident["sources"] = [REPORTS[incident["name"]]]
        text = yaml.safe_dump(incident, sort_keys=False, width=110, allow_unicode=True)
        (OUT / f"{incident['name']}.yaml").write_text(text, encoding="utf-8")
        print(f"{incident['name']}: {len(incident['steps'])} steps")


if __name__ == "__main__":
    main()
