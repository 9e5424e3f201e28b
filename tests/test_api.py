"""The package's top level shows its main entry points, and results print in a line, not five screens."""

from __future__ import annotations

import importlib.util
import json
import pydoc
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

import crossmargin

ROOT = Path(__file__).resolve().parents[1]
FAQ = ROOT / "examples" / "binance-faq-cross.json"
ENTRY_POINTS = ("evaluate", "Engine", "load_rulebook", "import_account")


def test_help_names_every_entry_point_with_an_example():
    text = pydoc.render_doc(crossmargin, renderer=pydoc.plaintext)
    for name in ENTRY_POINTS:
        assert f"crossmargin.{name}(" in text, name
    assert set(ENTRY_POINTS) <= set(crossmargin.__all__) and set(ENTRY_POINTS) <= set(dir(crossmargin))
    assert len(text.splitlines()) < 300  # the entry points, not every class of the package in full


def test_the_top_level_evaluates_a_file_a_document_and_a_snapshot():
    from crossmargin.margin import evaluation_to_json

    by_path = crossmargin.evaluate(FAQ)
    by_document = crossmargin.evaluate(json.loads(FAQ.read_text()))
    by_snapshot = crossmargin.evaluate(crossmargin.load_account(FAQ))
    documents = [crossmargin.evaluation_to_json(e) for e in (by_path, by_document, by_snapshot)]
    assert documents[0] == documents[1] == documents[2] == evaluation_to_json(by_path)
    assert documents[0]["pools"][0]["liquidation_move"]["down"] == "-0.076942"
    with pytest.raises(crossmargin.InputError, match="venue"):
        crossmargin.evaluate({"positions": []})


def test_the_engine_and_rulebooks_are_at_the_top_level():
    from crossmargin.engine.commands import Deposit
    from crossmargin.engine.core import Engine

    assert crossmargin.Engine is Engine
    engine = crossmargin.Engine(crossmargin.load_rulebook("generic"))
    assert engine.execute(Deposit("d1", "alice", "USD", D(100))).code.accepted


def test_importing_the_package_loads_no_layer_until_asked():
    code = "import sys, crossmargin; print(sorted(m for m in sys.modules if m.startswith('crossmargin.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_import_account_comes_from_connect_when_the_build_has_it():
    if importlib.util.find_spec("crossmargin.connect") is None:
        with pytest.raises(AttributeError, match=r"needs crossmargin\.connect"):
            crossmargin.import_account  # noqa: B018
        assert not hasattr(crossmargin, "import_account")
        return
    from crossmargin.connect import import_account

    assert crossmargin.import_account is import_account


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        crossmargin.nope  # noqa: B018


def test_results_print_in_one_short_line():
    from crossmargin.engine.commands import Deposit, MarketUpdate, PlaceOrder

    evaluation = crossmargin.evaluate(FAQ)
    isolated = crossmargin.evaluate(ROOT / "examples" / "binance-isolated.json")
    rulebook = crossmargin.load_rulebook("binance-usdm")
    engine = crossmargin.Engine(crossmargin.load_rulebook("generic"))
    engine.execute(Deposit("d", "alice", "USD", D(10000)))
    engine.execute(MarketUpdate("m", "BTC-PERP", 1, mark=D(50000)))
    rejected = engine.execute(PlaceOrder("o", "alice", "BTC-PERP", "buy", D(100)))
    values = [
        evaluation, evaluation.pools[0], evaluation.pools[0].figures, evaluation.pools[0].figures.positions[0],
        evaluation.snapshot, evaluation.snapshot.positions[0], rulebook, rulebook.instrument("BTCUSDT"),
        isolated.isolated[0], rejected, engine.execute(Deposit("d2", "alice", "USD", D(1))),
    ]  # fmt: skip
    for value in values:
        text = repr(value)
        assert "\n" not in text and len(text) < 200, text
    assert (
        repr(evaluation)
        == "Evaluation(binance-usdm, pools: 1, isolated: 0, lowest health 2.41024889, liquidatable=False)"
    )
    assert repr(evaluation.snapshot.positions[0]) == "Position(ETHUSDT long 3683.979 @ 1456.84, mark 1335.18, cross)"
    assert repr(rejected).startswith("Result('o', insufficient_margin")


def test_risk_results_print_in_one_short_line():
    from crossmargin.risk.models import build_model
    from crossmargin.risk.montecarlo import pool_of, simulate
    from crossmargin.risk.scenarios import incidents
    from crossmargin.risk.stress import run_stress

    account = crossmargin.parse_account(
        {"venue": "generic", "balances": {"USD": "30000"},
         "positions": [{"symbol": "BTC-PERP", "side": "long", "size": "2", "entry_price": "50000",
                        "mark_price": "51000"}]}
    )  # fmt: skip
    stressed = run_stress(account, incidents(["luna-2022"])[0])
    pool = pool_of(account, None)
    simulated = simulate(pool, build_model("bootstrap", list(pool.assets), 1), steps=24, paths=1000, seed=0)
    for value in (stressed, simulated):
        assert "\n" not in repr(value) and len(repr(value)) < 200, repr(value)
    assert repr(simulated).startswith("MonteCarloResult(1,000 paths of 24 steps: liquidation probability ")
