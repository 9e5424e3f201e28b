"""``crossmargin run``: every shipped scenario holds, a broken expectation exits 1, a malformed file exits 2.

The scenarios in ``scenarios/`` pin one engine rule each; running them as a user would (a subprocess of
``python -m crossmargin``) is what keeps them true as the engine changes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossmargin.cli.run import HELP
from crossmargin.scenario import parse_scenario, run_scenario
from crossmargin.units import InputError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

HEAD = """venue: generic
steps:
  - deposit: {account: alice, asset: USD, amount: "10000"}
  - market_update: {symbol: BTC-PERP, timestamp_ms: 1, mark: "50000"}
"""


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", "run", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_rules_are_all_shipped():
    names = {path.stem for path in SCENARIOS}
    assert {
        "withdrawal-blocked-by-margin",
        "full-liquidation-at-threshold",
        "funding-tips-into-liquidation",
        "insurance-fund-covers-deficit",
        "unapproved-collateral",
        "idempotent-retry",
        "undercollateralised-reduce-only",
        "correlated-crash",
        "binance-reduce-until-compliant",
        "bybit-tier-step-down",
        "hyperliquid-chunks",
        "insurance-then-adl",
        "staked-collateral",
        "stale-and-clamped-oracle",
        "depth-snapshot-fill",
        "binance-reduce-when-compliance-is-not-monotone",
        "hyperliquid-user-keeps-equity",
        "adl-quantity-rounds-up",
        "resting-limit-waits-for-a-valid-mark",
        "mark-age-is-the-marks-own",
        "costly-reduction-is-rechecked",
        "funding-beyond-the-wallet",
        "funding-beyond-the-equity",
        "multi-asset-collateral-falls",
        "auto-exchange-at-threshold",
        "collateral-depeg-liquidates",
        "funding-only-at-funding-times",
        "resting-order-reserves-margin",
        "binance-order-cost-excludes-fees",
        "bybit-order-cost-includes-fees",
        "hedge-mode-legs",
        "mango-replay-binance",
    } <= names


#: Scenarios that pin a rule the engine currently breaks. Strict: once the engine is fixed the xfail
#: turns into a failure, and the entry must go.
ENGINE_BUGS: dict[str, str] = {}  # scenario stem -> reason, for a known engine defect (strict xfail)


def _shipped(path: Path) -> object:
    reason = ENGINE_BUGS.get(path.stem)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_shipped(path) for path in SCENARIOS])
def test_every_shipped_scenario_holds(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Rule:"), "each file opens with the rule it pins"
    assert "Source:" in text, "and says where the rule comes from"
    completed = run(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " 0 failed" in completed.stdout.splitlines()[-1]
    scenario = parse_scenario(text, source=path.name)
    assert sum(step.expect.count for step in scenario.steps) >= 3, "a scenario pins its rule with expectations"


def test_a_failed_expectation_exits_1_and_says_which(tmp_path: Path):
    path = write(
        tmp_path,
        HEAD
        + """  - id: buy
    place_order: {account: alice, symbol: BTC-PERP, side: buy, quantity: "0.1"}
    expect: {code: accepted, position: {BTC-PERP: "0.2"}, health: {above: "1"}}
""",
    )
    completed = run(path)
    assert completed.returncode == 1, completed.stderr
    assert "step 3 (place_order) buy: position.BTC-PERP: expected 0.2, got 0.1" in completed.stdout
    assert completed.stdout.splitlines()[-1].startswith("2 expectations passed, 1 failed")


def test_a_wrong_result_code_is_a_failed_expectation(tmp_path: Path):
    path = write(tmp_path, HEAD + '  - withdraw: {account: alice, asset: USD, amount: "20000"}\n    expect: accepted\n')
    completed = run(path)
    assert completed.returncode == 1
    assert "code: expected accepted, got would_breach_withdrawable" in completed.stdout


STEP = "  - place_order: {account: alice, symbol: BTC-PERP, side: buy, quantity: %s}\n"

MALFORMED = {
    "unknown command": (HEAD + "  - plac_order: {account: alice}\n", "step 3 (plac_order): unknown command"),
    "yaml float": (HEAD + STEP % "0.5", "step 3 (place_order).quantity: must be a decimal string"),
    "float in an expectation": (
        HEAD + STEP % '"0.5"' + "    expect: {health: {above: 1.5}}\n",
        "step 3 (place_order).expect.health.above: must be a decimal string",
    ),
    "missing field": (
        HEAD + "  - place_order: {account: alice, symbol: BTC-PERP, side: buy}\n",
        "step 3 (place_order).quantity: is missing",
    ),
    "unknown field": (HEAD + STEP % '"0.5", qty: "1"', "step 3 (place_order).qty: is not a field"),
    "unknown expectation": (
        HEAD + STEP % '"0.5"' + "    expect: {healt: 1}\n",
        "step 3 (place_order).expect.healt: is not an expectation",
    ),
    "unknown result code": (HEAD + STEP % '"0.5"' + "    expect: acepted\n", "step 3 (place_order).expect.code"),
    "unknown symbol in an expectation": (
        HEAD + STEP % '"0.5"' + '    expect: {position: {BTC-PRP: "1"}}\n',
        "step 3 (place_order).expect.position.BTC-PRP",
    ),
    "figures without an account": (
        HEAD + '  - market_update: {symbol: BTC-PERP, timestamp_ms: 2, mark: "1"}\n    expect: {health: "1"}\n',
        "step 3 (market_update).expect.account: is needed",
    ),
    "two commands in one step": (
        HEAD
        + '  - deposit: {account: a, asset: USD, amount: "1"}\n    withdraw: {account: a, asset: USD, amount: "1"}\n',
        "step 3 (deposit).withdraw: is not a step key",
    ),
    "forgotten dash (duplicate key)": (
        HEAD
        + '  - deposit: {account: a, asset: USD, amount: "1"}\n    deposit: {account: a, asset: USD, amount: "2"}\n',
        "step 3: is not valid YAML at line 6, column 5: duplicate key 'deposit'",
    ),
    "not yaml": ("venue: generic\nsteps: [\n  {deposit: {account: a\n", "is not valid YAML at line"),
    "not a scenario": ("just some text\n", "must be a mapping with venue: and steps:"),
    "no steps": ("venue: generic\nsteps: []\n", "steps: must be a non-empty list"),
    "unknown venue": ("venue: nowhere\nsteps:\n  - deposit: {account: a, asset: USD, amount: '1'}\n", "venue: unknown"),
}


@pytest.mark.parametrize(("text", "expected"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_exits_2_with_one_line(tmp_path: Path, text: str, expected: str):
    completed = run(write(tmp_path, text))
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    assert expected in lines[0]


def test_a_truncated_file_names_the_step_it_breaks_in(tmp_path: Path):
    text = (ROOT / "scenarios" / "idempotent-retry.yaml").read_text(encoding="utf-8")
    cut = text[: text.index('quantity: "0.2"') + len("quantity: ")]  # inside step 5's braces
    completed = run(write(tmp_path, cut))
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: step 5: is not valid YAML at line ")
    assert len(completed.stderr.splitlines()) == 1


def test_a_file_truncated_between_fields_names_the_missing_field(tmp_path: Path):
    text = HEAD + "  - place_order:\n      account: alice\n      symbol: BTC-PERP\n"
    completed = run(write(tmp_path, text))
    assert completed.returncode == 2
    assert completed.stderr == "error: step 3 (place_order).side: is missing\n"


def test_a_missing_file_is_one_line(tmp_path: Path):
    completed = run(tmp_path / "absent.yaml")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ") and "cannot be read" in completed.stderr


def test_json_output_parses_and_carries_every_step():
    path = ROOT / "scenarios" / "full-liquidation-at-threshold.yaml"
    completed = run(path, "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["venue"] == "generic" and document["failed"] == 0 and document["passed"] > 0
    steps = {step["id"]: step for step in document["steps"]}
    assert len(document["steps"]) == len(parse_scenario(path.read_text()).steps)
    below = steps["one-tick-below-threshold"]
    assert below["kind"] == "market_update" and below["code"] == "accepted"
    assert "liquidation_started" in below["events"] and below["failures"] == []
    assert steps["one-tick-above-threshold"]["figures"]["health"] == "1.0001031"


def test_json_output_of_a_failure_still_parses(tmp_path: Path):
    path = write(
        tmp_path, HEAD + "  - withdraw: {account: alice, asset: USD, amount: '1'}\n    expect: position_open\n"
    )
    completed = run(path, "--json")
    assert completed.returncode == 1
    document = json.loads(completed.stdout)
    assert document["failed"] == 1 and document["steps"][2]["failures"][0].startswith("code: expected position_open")


def test_db_runs_through_the_store_or_is_refused_in_one_line(tmp_path: Path):
    path = ROOT / "scenarios" / "idempotent-retry.yaml"
    url = f"sqlite:///{tmp_path / 'run.db'}"
    completed = run(path, "--db", url)
    if importlib.util.find_spec("crossmargin.store") is None:
        assert completed.returncode == 2
        assert completed.stderr == "error: --db: the store is not available in this build\n"
        return
    assert completed.returncode == 0, completed.stdout + completed.stderr
    again = run(path, "--db", url)  # the same ids and bodies: every step answered from the store's log
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_documented_examples_run_and_hold():
    doc = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    in_doc = re.search(r"## File\n\n```yaml\n(.*?)```", doc, re.S)
    assert in_doc is not None
    start = HELP.index("  venue:")
    in_help = textwrap.dedent(HELP[start : HELP.index("\n\n", start)]).replace("\\b", "")
    for text in (in_doc.group(1), in_help):
        reports = run_scenario(parse_scenario(text))
        assert all(not r.failures for r in reports) and sum(r.checks for r in reports) >= 3


def test_help_documents_the_format():
    completed = run("--help")
    assert completed.returncode == 0
    for word in ("venue", "steps", "expect", "place_order", "at_least", "docs/scenarios.md"):
        assert word in completed.stdout


def test_expectations_read_the_engine_in_process():
    scenario = parse_scenario(
        HEAD
        + """  - place_order: {account: alice, symbol: BTC-PERP, side: sell, quantity: "0.2"}
    expect:
      position: {BTC-PERP: "-0.2"}
      wallet: {USD: {below: "10000", above: "9990"}}
      health: {above: "99", below: "100"}
      margin_ratio: {below: "0.2"}
      withdrawable: {at_most: "9000"}
      liquidated: false
      events: [filled]
      insurance: {USD: "0"}
"""
    )
    reports = run_scenario(scenario)
    assert [r.failures for r in reports] == [(), (), ()]
    assert reports[2].checks == 8 and reports[2].figures["BTC-PERP"] == "-0.2"


def test_a_pool_that_cannot_be_chosen_is_a_failure_not_a_guess():
    scenario = parse_scenario(
        HEAD
        + """  - deposit: {account: alice, asset: BTC, amount: "1"}
    expect: {health: "1"}
"""
    )
    failure = run_scenario(scenario)[2].failures[0]
    assert failure.startswith("health: account alice has pools: BTC, USD")


def test_parse_errors_are_input_errors_naming_the_step():
    with pytest.raises(InputError) as caught:
        parse_scenario(HEAD + STEP % '"0.5"' + "    expect: {liquidated: yes please}\n")
    assert caught.value.field == "step 3 (place_order).expect.liquidated"
