"""The backtest's ``--json`` document, its fills fingerprint and the ``--output`` folder.

The keys and their forms are the command's interface: ISO 8601 UTC times, money as decimal strings,
``kind`` full, partial or adl; the fingerprint is the SHA-256 of ``time_ms,symbol,side,size,price,fee,kind``
lines in fill order.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.sim.output import write_output
from crossmargin.sim.result_json import fill_lines, fills_fingerprint, iso_time, result_document, results_document
from crossmargin.sim.types import FundingPayment, Liquidation, Trade
from crossmargin.units import InputError
from tests.sim_results import START_MS, make_result, synthetic_pair

KEYS = [
    "mode", "venue", "rulebook_as_of", "start", "end", "final_equity", "total_return", "cagr", "max_drawdown",
    "sharpe", "sortino", "calmar", "fees_paid", "funding_paid", "funding_received", "liquidations", "fills",
    "fills_sha256", "trades", "bars", "time_below_health",
]  # fmt: skip
T0 = 1_621_429_200_000  # 2021-05-19T13:00:00Z
BUY = Trade(T0, "BTCUSDT", "buy", Decimal("0.500"), Decimal("36512.10"), Decimal("9.128025"), Decimal(0))
SELL = Trade(T0 + 3_600_000, "BTCUSDT", "sell", Decimal("0.2"), Decimal("37000"), Decimal("3.7"), Decimal("97.58"))
LIQUIDATION = Liquidation(T0, "ETHUSDT", "buy", Decimal("2"), Decimal("3512.5"), "partial", Decimal("-80"),
                          Decimal("1.75"))  # fmt: skip


def test_the_canonical_lines_and_their_hash():
    """Lines written out by hand: trailing zeros dropped, the strategy's fill before a liquidation at one time."""
    lines = [
        "1621429200000,BTCUSDT,buy,0.5,36512.1,9.128025,trade\n",
        "1621429200000,ETHUSDT,buy,2,3512.5,1.75,partial\n",
        "1621432800000,BTCUSDT,sell,0.2,37000,3.7,trade\n",
    ]
    assert list(fill_lines([BUY, SELL], [LIQUIDATION])) == lines
    assert fills_fingerprint([BUY, SELL], [LIQUIDATION]) == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert fills_fingerprint([], []) == hashlib.sha256(b"").hexdigest()


@settings(max_examples=100, deadline=None)
@given(st.decimals("0.001", "100000", places=3), st.integers(0, 4))
def test_equal_values_hash_alike_and_a_changed_fill_does_not(size, zeros):
    padded = Decimal(f"{size}{'0' * zeros}") if "." in str(size) else size  # 1.5 written 1.5000
    trade = Trade(T0, "BTCUSDT", "buy", size, Decimal("100"), Decimal("0.1"))
    same = Trade(T0, "BTCUSDT", "buy", padded, Decimal("1E+2"), Decimal("0.10"))
    assert fills_fingerprint([trade], []) == fills_fingerprint([same], [])
    other = Trade(T0, "BTCUSDT", "buy", size + Decimal("0.001"), Decimal("100"), Decimal("0.1"))
    assert fills_fingerprint([trade], []) != fills_fingerprint([other], [])


def test_iso_times_in_utc():
    assert iso_time(T0) == "2021-05-19T13:00:00Z"
    assert iso_time(T0 + 250) == "2021-05-19T13:00:00.250Z"


def test_the_document_has_exactly_the_interface_keys_in_their_forms():
    funding = [FundingPayment(T0, "BTCUSDT", Decimal("0.0001"), Decimal("36512.1"), Decimal("-1.82560500")),
               FundingPayment(T0 + 1, "BTCUSDT", Decimal("-0.0002"), Decimal("36000"), Decimal("3.6"))]  # fmt: skip
    result = make_result([10_000, 9_800, 10_150], initial="10000", final="10150.42", health=[9, 1.2, 3],
                         trades=[SELL, BUY], liquidations=[LIQUIDATION], funding=funding)  # fmt: skip
    document = result_document(result)
    assert list(document) == KEYS
    assert document["start"] == "2021-05-01T00:00:00Z" and document["end"] == "2021-05-01T03:00:00Z"
    assert document["final_equity"] == "10150.42" and document["total_return"] == "0.01504200"
    assert document["fees_paid"] == "14.578025"  # 9.128025 + 3.7 + 1.75, every fee of the account
    assert (document["funding_paid"], document["funding_received"]) == ("1.82560500", "3.6")
    assert document["max_drawdown"] == "0.02000000" and document["bars"] == 3 and document["fills"] == 3
    assert document["time_below_health"] == {"1.5": "0.33333333"}
    assert document["liquidations"] == [
        {"time": "2021-05-19T13:00:00Z", "symbol": "ETHUSDT", "side": "buy", "size": "2", "price": "3512.5",
         "kind": "partial"}
    ]  # fmt: skip
    assert [t["time"] for t in document["trades"]] == ["2021-05-19T13:00:00Z", "2021-05-19T14:00:00Z"]
    assert document["trades"][0] == {"time": "2021-05-19T13:00:00Z", "symbol": "BTCUSDT", "side": "buy",
                                      "size": "0.500", "price": "36512.10", "fee": "9.128025"}  # fmt: skip
    assert document["fills_sha256"] == fills_fingerprint([BUY, SELL], [LIQUIDATION])
    json.dumps(document)  # every value is plain JSON


def test_both_modes_give_a_list_and_one_mode_a_document():
    cross, isolated = synthetic_pair(bars=48)
    both = results_document([cross, isolated])
    assert isinstance(both, list) and [d["mode"] for d in both] == ["cross", "isolated"]
    assert results_document([cross])["mode"] == "cross"
    assert both[1]["liquidations"][0]["kind"] == "full"
    assert both[0]["sharpe"] is None or Decimal(both[0]["sharpe"])  # a decimal string or null


def test_the_output_folder_holds_the_json_and_exact_parquet(tmp_path: Path):
    cross, isolated = synthetic_pair(bars=48)
    folder = tmp_path / "run"
    written = write_output([cross, isolated], folder)
    assert [p.name for p in written] == ["backtest.json", "equity-cross.parquet", "fills-cross.parquet",
                                         "equity-isolated.parquet", "fills-isolated.parquet"]  # fmt: skip
    assert json.loads((folder / "backtest.json").read_text()) == results_document([cross, isolated])
    equity = pq.read_table(folder / "equity-cross.parquet").to_pydict()
    assert len(equity["time"]) == 48 and equity["equity"] == list(cross.equity)
    assert int(equity["time"][0].timestamp() * 1000) == START_MS
    fills = pq.read_table(folder / "fills-isolated.parquet").to_pydict()
    assert fills["kind"] == ["trade", "trade", "full", "trade"]
    assert fills["size"] == [Decimal("0.526"), Decimal("3.448"), Decimal("3.448"), Decimal("0.2")]
    assert fills["fee"][2] == Decimal("19.4") and fills["realized_pnl"][2] == Decimal("-1200.52")


def test_an_output_folder_that_cannot_be_made_is_one_error(tmp_path: Path):
    cross, _ = synthetic_pair(bars=24)
    afile = tmp_path / "taken"
    afile.write_text("")
    with pytest.raises(InputError, match="is a file"):
        write_output([cross], afile)
    with pytest.raises(InputError, match="does not exist"):
        write_output([cross], tmp_path / "missing" / "run")
