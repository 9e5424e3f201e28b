"""Every account `evaluate` accepts goes through stress, guard and report: positions with their own
maintenance rate (`mmr`), hedge-mode legs, and debts.

Stress runs each through the engine, so each test also pins that the engine holds the account as
the margin functions evaluate it: a uniform move just inside the evaluated liquidation move
leaves the copy alone and one just past it liquidates it (with the rulebook's tiers instead of a
position's fixed rate, or with the legs of a hedge netted, the boundary would lie elsewhere).
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import AccountSnapshot, load_account, parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.scenarios import uniform
from crossmargin.risk.stress import run_stress

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# a dYdX subaccount: the USDC balance is negative (the long was bought on credit), health about 3.9
DYDX_DEBT = {
    "venue": "dydx",
    "balances": {"USDC": "-60000"},
    "positions": [
        {"symbol": "BTC-USD", "side": "long", "size": "1", "entry_price": "0.0001", "mark_price": "68000",
         "leverage": "20"},
    ],
}  # fmt: skip
# Binance Multi-Assets: a USDT debt backed by USDC, a long and a short
MULTI_DEBT = {
    "venue": "binance-usdm",
    "asset_mode": "multi",
    "balances": {"USDT": "-2000", "USDC": "9000"},
    "prices": {"USDT": "1", "USDC": "1"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000", "mark_price": "60500"},
        {"symbol": "ETHUSDT", "side": "short", "size": "10", "entry_price": "3000", "mark_price": "3010"},
    ],
}  # fmt: skip


def _accounts() -> dict[str, AccountSnapshot]:
    return {
        "mmr-override": load_account(EXAMPLES / "binance-faq-cross.json"),
        "hedge-legs": load_account(EXAMPLES / "binance-hedge-mode.json"),
        "debt": parse_account(DYDX_DEBT),
        "multi-debt": parse_account(MULTI_DEBT),
    }


KINDS = ["mmr-override", "hedge-legs", "debt", "multi-debt"]


@pytest.mark.parametrize("kind", KINDS)
def test_stress_liquidates_where_the_margin_functions_say(kind: str):
    """Just inside the evaluated liquidation move (down) the copy survives; just past it the engine
    liquidates it. For binance-faq-cross.json the rulebook's tier for 4.9 M of ETH (1 %) would
    put the boundary far beyond the account's own 10 %."""
    snapshot = _accounts()[kind]
    evaluation = evaluate_account(snapshot)
    assert not evaluation.liquidatable
    (pool,) = evaluation.pools
    move = pool.move.down
    assert move is not None
    margin = max(abs(move) * D("0.02"), D("0.0005"))
    assets = sorted({p.instrument.base_asset for p in snapshot.positions})
    inside = run_stress(snapshot, uniform(assets, move + margin, 2))
    assert not inside.liquidated and inside.min_health is not None and inside.min_health > 1
    past = run_stress(snapshot, uniform(assets, move - margin, 2))
    assert past.liquidated and past.liquidated_at_step in (1, 2)
    assert inside.equity_before == past.equity_before


@pytest.mark.parametrize("kind", KINDS)
def test_guard_and_report_accept_the_account(kind: str, tmp_path: Path):
    """The guard's reserve goes through the engine too: depositing it keeps the copy alive through
    the binding move; the report writes its file."""
    path = EXAMPLES / "binance-faq-cross.json" if kind == "mmr-override" else None
    if kind == "hedge-legs":
        path = EXAMPLES / "binance-hedge-mode.json"
    if path is None:
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(DYDX_DEBT if kind == "debt" else MULTI_DEBT))
    result = CliRunner().invoke(app, ["guard", str(path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["liquidatable"] is False and document["stops"]
    reserve = document["reserve"]
    assert reserve["amount"] is not None
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(path), "--html", str(report), "--paths", "200"])
    assert result.exit_code == 0, result.output
    assert report.stat().st_size > 10_000


def test_an_account_with_a_debt_already_liquidatable_is_liquidated_at_step_0():
    """examples/dydx-below-maintenance.json: net collateral 1,700 USDC against 2,040 required."""
    snapshot = load_account(EXAMPLES / "dydx-below-maintenance.json")
    report = run_stress(snapshot, uniform(["BTC"], D("0.05"), 3))
    assert report.liquidated and report.liquidated_at_step == 0
    assert report.health_path[0] is not None and report.health_path[0] < 1
